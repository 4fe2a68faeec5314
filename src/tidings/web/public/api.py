"""The public JSON endpoints used by signup forms in browsers (no API key).

``GET  /api/public/form``           a fresh form token, today's consent text and its
                                    hash, the public lists, and an ALTCHA challenge
                                    when ``signup.altcha`` is on.
``GET  /api/public/altcha``         an ALTCHA challenge.
``POST /api/public/subscriptions``  a signup: ``{"email", "name", "lists": [ids or
                                    slugs], "consent": true, "form_token",
                                    "consent_hash", "altcha", "website"}``.

Cross-origin calls are allowed from ``TIDINGS_CORS_ORIGINS`` only: a request whose
``Origin`` is another site is refused (403) before anything happens, and the POST
needs ``Content-Type: application/json``, so a browser always asks first (preflight).
Errors are RFC 7807 problem JSON with the CORS headers, so the form can show them.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from tidings.domain.errors import (
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    TidingsError,
    ValidationError,
)
from tidings.services import signups
from tidings.services.ratelimit import retry_after
from tidings.services.signup_guard import Verdict
from tidings.web import errors
from tidings.web.public import common

router = APIRouter(prefix="/api/public")

MAX_JSON_BYTES = 16 * 1024
MESSAGES = {
    True: "Thank you! Please check your inbox and confirm your subscription.",
    False: "Thank you! You are subscribed.",
}


def _cors(request: Request) -> dict[str, str]:
    origin = common.cors_origin(request)
    headers = {"Vary": "Origin"}
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
    return headers


def _refuse_foreign_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None or common.cors_origin(request):
        return
    if common.origin_of(origin) in common.allowed_origins(request, include_self=True):
        return
    raise PermissionDenied("Signups from this site are not allowed.")


def _problem(request: Request, exc: TidingsError) -> JSONResponse:
    status = errors.status_for(exc)
    headers = _cors(request)
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(retry_after(exc.retry_after))
    return errors.problem(status, HTTPStatus(status).phrase, exc.message,
                          kind=type(exc).__name__, headers=headers,
                          field=getattr(exc, "field", None))


@router.options("/form", include_in_schema=False)
@router.options("/altcha", include_in_schema=False)
@router.options("/subscriptions", include_in_schema=False)
def preflight(request: Request) -> Response:
    """Answer a CORS preflight: allowed for the publisher's sites only."""
    if not common.cors_origin(request):
        return _problem(request, PermissionDenied("Signups from this site are not allowed."))
    return Response(status_code=204, headers={
        **_cors(request),
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type, Accept",
        "Access-Control-Max-Age": "600",
    })


@router.get("/form", include_in_schema=False)
def form(request: Request) -> Response:
    try:
        _refuse_foreign_origin(request)
    except TidingsError as exc:
        return _problem(request, exc)
    db = common.runtime(request).db
    values = common.settings_values(request)
    text = signups.consent_text(values)
    guard = common.guard(request)
    body = {
        "form_token": guard.form_token(),
        "consent_text": text,
        "consent_hash": signups.remember_consent_text(db, text),
        "lists": [{"id": m.uid, "slug": m.slug, "name": m.name, "description": m.description,
                   "double_optin": m.optin == "double"} for m in signups.offered(db)],
        "altcha": guard.altcha_challenge() if values["signup.altcha"] else None,
    }
    return JSONResponse(body, headers={**_cors(request), "Cache-Control": "no-store"})


@router.get("/altcha", include_in_schema=False)
def altcha_challenge(request: Request) -> Response:
    try:
        _refuse_foreign_origin(request)
    except TidingsError as exc:
        return _problem(request, exc)
    return JSONResponse(common.guard(request).altcha_challenge(),
                        headers={**_cors(request), "Cache-Control": "no-store"})


@router.post("/subscriptions", include_in_schema=False)
async def subscribe(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return errors.problem(415, "Unsupported Media Type",
                              "Send the signup as application/json.", headers=_cors(request))
    try:
        return await _subscribe(request)
    except TidingsError as exc:
        return _problem(request, exc)


async def _subscribe(request: Request) -> Response:
    _refuse_foreign_origin(request)
    guard = common.guard(request)
    values = common.settings_values(request)
    ip, agent = common.signup_client(request)
    body = await _json_body(request)
    if body.get("consent") is not True:
        raise ValidationError("The reader's consent is required (\"consent\": true).",
                              field="consent")
    lists = body.get("lists")
    if not isinstance(lists, list) or not all(isinstance(x, str | int) for x in lists):
        raise ValidationError(signups.NO_LIST, field="lists")
    texts = {name: body.get(name) for name in ("email", "name", "form_token", "consent_hash",
                                               "altcha", "website")}
    for name, value in texts.items():
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"{name} must be a string.", field=name)
    verdict = guard.judge(form_token=texts["form_token"], honeypot=texts["website"],
                          min_fill_seconds=float(values["signup.min_fill_seconds"]))
    if verdict is Verdict.STALE:
        raise ValidationError("form_token is missing or expired: get a fresh one from "
                              "GET /api/public/form.", field="form_token")
    if (verdict is Verdict.ACCEPT and values["signup.altcha"]
            and not guard.altcha_ok(texts["altcha"])):
        raise ValidationError("The spam check (ALTCHA) is missing, wrong or used already.",
                              field="altcha")
    source = "embed" if common.cors_origin(request) else "api"
    request_ = signups.Signup(
        email=texts["email"] or "", name=texts["name"], lists=[str(x) for x in lists],
        source=source, consent_hash=texts["consent_hash"] or None, ip=ip, user_agent=agent)
    quiet = common.answer_quietly(request, verdict, request_.email)
    answer = await signups.signup_async(common.runtime(request).db, request_, quiet=quiet)
    return JSONResponse({
        "status": "pending" if answer.pending else "subscribed",
        "message": MESSAGES[answer.pending],
        "lists": [{"id": m.uid, "name": m.name} for m in answer.lists],
    }, headers=_cors(request))


async def _json_body(request: Request) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise PayloadTooLarge("The request is too large.")
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("The body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise ValidationError("The body must be a JSON object.")
    return parsed

