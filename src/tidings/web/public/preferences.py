"""The preference centre ``/preferences/<token>``: lists, name, leaving, data rights.

The signed token in the URL is the reader's credential; every form on these pages
also carries a CSRF token bound to it (:mod:`tidings.web.csrf`). Erasure takes two
steps: a page that says what will happen, then a POST that does it.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tidings.domain.errors import NotFound, PermissionDenied, TokenInvalid, ValidationError
from tidings.mail.tokens import Purpose
from tidings.services import data_rights, preferences, signups
from tidings.services.preferences import Preferences
from tidings.web import csrf
from tidings.web.public import common

router = APIRouter(prefix="/preferences")

NOTICES = {
    "saved": "Your preferences are saved.",
    "left": "You have left every list. You will receive no more newsletters from us.",
}


def _subscriber_id(request: Request, token: str) -> int:
    (subscriber_id,) = common.runtime(request).tokens.verify(Purpose.PREFERENCES, token,
                                                             arity=1)
    return subscriber_id


def _binding(token: str) -> str:
    return f"preferences:{token}"


def _check_csrf(request: Request, token: str, form: common.Form) -> None:
    csrf.check(request, common.runtime(request).settings.secret_key, _binding(token),
               form.get(csrf.FIELD))


def _page(request: Request, token: str, prefs: Preferences, *, notice: str | None = None,
          errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    runtime = common.runtime(request)
    text = signups.current_consent_text(runtime.db)
    return common.render(request, "public/preferences.html", {
        "prefs": prefs, "token": token, "notice": notice, "errors": errors or {},
        "csrf": csrf.issue(runtime.settings.secret_key, _binding(token)),
        "consent_text": text,
        "consent_hash": signups.remember_consent_text(runtime.db, text),
    }, status_code=status_code, private=True)


def _gone(request: Request) -> Response:
    return common.render(request, "public/erased.html", {"gone": True}, status_code=410,
                         private=True)


def _invalid(request: Request) -> Response:
    return common.render(request, "public/link_invalid.html", {}, status_code=400,
                         private=True)


@router.get("/{token}", include_in_schema=False)
def preferences_page(request: Request, token: str) -> Response:
    try:
        prefs = preferences.load(common.runtime(request).db, _subscriber_id(request, token))
    except TokenInvalid:
        return _invalid(request)
    except NotFound:
        return _gone(request)
    return _page(request, token, prefs, notice=NOTICES.get(request.query_params.get("done", "")))


@router.post("/{token}", include_in_schema=False)
async def save(request: Request, token: str) -> Response:
    try:
        subscriber_id = _subscriber_id(request, token)
    except TokenInvalid:
        return _invalid(request)
    db = common.runtime(request).db
    form = await common.read_form(request)
    ip, agent = common.client(request)
    try:
        _check_csrf(request, token, form)
        text_hash = await run_in_threadpool(signups.shown_text_hash, db,
                                            form.get("consent_hash"))
        await run_in_threadpool(
            preferences.save, db, subscriber_id, wanted=set(form.getlist("lists")),
            name=form.get("name"), text_hash=text_hash, ip=ip, user_agent=agent)
    except NotFound:
        return _gone(request)
    except (PermissionDenied, TokenInvalid, ValidationError) as exc:
        prefs = await run_in_threadpool(preferences.load, db, subscriber_id)
        status = 422 if isinstance(exc, ValidationError) else 403
        return _page(request, token, prefs, errors={"form": exc.message}, status_code=status)
    return RedirectResponse(f"/preferences/{token}?done=saved", status_code=303)


@router.post("/{token}/leave", include_in_schema=False)
async def leave_all(request: Request, token: str) -> Response:
    try:
        subscriber_id = _subscriber_id(request, token)
    except TokenInvalid:
        return _invalid(request)
    db = common.runtime(request).db
    form = await common.read_form(request)
    ip, agent = common.client(request)
    try:
        _check_csrf(request, token, form)
    except (PermissionDenied, TokenInvalid) as exc:
        try:
            prefs = await run_in_threadpool(preferences.load, db, subscriber_id)
        except NotFound:
            return _gone(request)
        return _page(request, token, prefs, errors={"form": exc.message}, status_code=403)
    await run_in_threadpool(preferences.unsubscribe, db, subscriber_id, None,
                            source="preferences", ip=ip, user_agent=agent)
    return RedirectResponse(f"/preferences/{token}?done=left", status_code=303)


@router.post("/{token}/export", include_in_schema=False)
async def export(request: Request, token: str) -> Response:
    try:
        subscriber_id = _subscriber_id(request, token)
    except TokenInvalid:
        return _invalid(request)
    db = common.runtime(request).db
    form = await common.read_form(request)
    try:
        _check_csrf(request, token, form)
        data = await run_in_threadpool(data_rights.export, db, subscriber_id)
    except NotFound:
        return _gone(request)
    except (PermissionDenied, TokenInvalid) as exc:
        prefs = await run_in_threadpool(preferences.load, db, subscriber_id)
        return _page(request, token, prefs, errors={"form": exc.message}, status_code=403)
    filename = f"tidings-data-{data['profile']['id']}.json"
    return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             **common.page_headers(request, private=True)})


@router.get("/{token}/erase", include_in_schema=False)
def erase_page(request: Request, token: str) -> Response:
    try:
        prefs = preferences.load(common.runtime(request).db, _subscriber_id(request, token))
    except TokenInvalid:
        return _invalid(request)
    except NotFound:
        return _gone(request)
    return _erase_page(request, token, prefs)


def _erase_page(request: Request, token: str, prefs: Preferences, *,
                error: str | None = None, status_code: int = 200) -> Response:
    secret = common.runtime(request).settings.secret_key
    return common.render(request, "public/erase.html", {
        "prefs": prefs, "token": token, "error": error,
        "csrf": csrf.issue(secret, _binding(token)),
    }, status_code=status_code, private=True)


@router.post("/{token}/erase", include_in_schema=False)
async def erase(request: Request, token: str) -> Response:
    try:
        subscriber_id = _subscriber_id(request, token)
    except TokenInvalid:
        return _invalid(request)
    db = common.runtime(request).db
    form = await common.read_form(request)
    try:
        _check_csrf(request, token, form)
        if form.get("confirm") != "erase":
            raise ValidationError("Tick the box to confirm that everything should be erased.")
    except (PermissionDenied, TokenInvalid, ValidationError) as exc:
        try:
            prefs = await run_in_threadpool(preferences.load, db, subscriber_id)
        except NotFound:
            return _gone(request)
        status = 422 if isinstance(exc, ValidationError) else 403
        return _erase_page(request, token, prefs, error=exc.message, status_code=status)
    erased = await run_in_threadpool(data_rights.erase, db, subscriber_id)
    if not erased:
        return _gone(request)
    return common.render(request, "public/erased.html", {"gone": False}, private=True)
