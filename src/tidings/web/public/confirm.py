"""Double opt-in: ``/confirm/<token>``. GET shows a button, POST confirms.

Link scanners follow GETs, so only the POST confirms. The link expires
(:data:`tidings.mail.links.CONFIRM_MAX_AGE`) and works once: a second POST after
success answers 410 Gone and changes nothing, as does an expired link (with a way to
sign up again).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tidings.domain.errors import NotFound, TokenExpired, TokenInvalid
from tidings.mail.links import CONFIRM_MAX_AGE, preferences_url
from tidings.mail.tokens import Purpose
from tidings.services import signups
from tidings.web.public import common

router = APIRouter()


def _ids(request: Request, token: str) -> tuple[int, int] | Response:
    try:
        subscriber_id, consent_id, _ = common.runtime(request).tokens.verify(
            Purpose.CONFIRM, token, arity=3, max_age=CONFIRM_MAX_AGE)
    except TokenExpired:
        return _gone(request, "expired")
    except TokenInvalid:
        return common.render(request, "public/link_invalid.html", {}, status_code=400,
                             private=True)
    return subscriber_id, consent_id


def _gone(request: Request, reason: str) -> Response:
    return common.render(request, "public/confirm_gone.html", {"reason": reason},
                         status_code=410, private=True)


@router.get("/confirm/{token}", include_in_schema=False)
def confirm_page(request: Request, token: str) -> Response:
    ids = _ids(request, token)
    if isinstance(ids, Response):
        return ids
    try:
        view = signups.pending_confirmation(common.runtime(request).db, *ids)
    except NotFound:
        return _gone(request, "missing")
    if not view.confirmed:
        return common.render(request, "public/confirmed.html",
                             {"view": view, "already": True, "preferences": None},
                             private=True)
    return common.render(request, "public/confirm.html", {"view": view, "token": token},
                         private=True)


@router.post("/confirm/{token}", include_in_schema=False)
async def confirm(request: Request, token: str) -> Response:
    ids = _ids(request, token)
    if isinstance(ids, Response):
        return ids
    runtime = common.runtime(request)
    ip, agent = common.client(request)
    try:
        done = await run_in_threadpool(signups.confirm, runtime.db, *ids, ip=ip,
                                       user_agent=agent)
    except NotFound:
        return _gone(request, "missing")
    if not done.confirmed:
        return _gone(request, "used")
    link = preferences_url(runtime.settings.base_url, runtime.tokens, ids[0])
    return common.render(request, "public/confirmed.html",
                         {"view": done, "already": False, "preferences": link}, private=True)
