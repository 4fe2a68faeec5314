"""Unsubscribing: ``/u/<token>``, the page and the RFC 8058 one-click endpoint in one.

GET shows a page with one button (and, for a token of one list, the choice between
that list and all of them); it never changes anything. POST unsubscribes, at once and
inside the request. A mailbox provider's one-click POST (body
``List-Unsubscribe=One-Click``, urlencoded or multipart) needs no cookie, CSRF token
or login, is answered 200 without a redirect, and is idempotent.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tidings.domain.errors import NotFound, TokenInvalid
from tidings.mail.links import preferences_url
from tidings.mail.tokens import Purpose
from tidings.services import preferences
from tidings.web.public import common

router = APIRouter()


def _ids(request: Request, token: str) -> tuple[int, int, int] | Response:
    try:
        subscriber_id, list_id, campaign_id = common.runtime(request).tokens.verify(
            Purpose.UNSUBSCRIBE, token, arity=3)
    except TokenInvalid:
        return common.render(request, "public/link_invalid.html", {}, status_code=400,
                             private=True)
    return subscriber_id, list_id, campaign_id


@router.get("/u/{token}", include_in_schema=False)
def unsubscribe_page(request: Request, token: str) -> Response:
    ids = _ids(request, token)
    if isinstance(ids, Response):
        return ids
    subscriber_id, list_id, _ = ids
    runtime = common.runtime(request)
    try:
        prefs = preferences.load(runtime.db, subscriber_id)
    except NotFound:
        return common.render(request, "public/unsubscribed.html",
                             {"left": [], "gone": True, "preferences": None}, private=True)
    on = [c for c in prefs.choices if c.subscribed]
    this = next((c.list for c in prefs.choices if c.list.id == list_id), None)
    return common.render(request, "public/unsubscribe.html", {
        "prefs": prefs, "this": this, "subscribed_to": on, "token": token,
        "preferences": preferences_url(runtime.settings.base_url, runtime.tokens,
                                       subscriber_id),
    }, private=True)


@router.post("/u/{token}", include_in_schema=False)
async def unsubscribe(request: Request, token: str) -> Response:
    ids = _ids(request, token)
    if isinstance(ids, Response):
        return ids
    subscriber_id, list_id, campaign_id = ids
    form = await common.read_form(request)
    one_click = form.get("List-Unsubscribe") == "One-Click"
    scope_all = list_id == 0 or (not one_click and form.get("scope") == "all")
    runtime = common.runtime(request)
    ip, agent = common.client(request)
    left = await run_in_threadpool(
        preferences.unsubscribe, runtime.db, subscriber_id, None if scope_all else list_id,
        source="one-click" if one_click else "page", campaign_id=campaign_id, ip=ip,
        user_agent=agent)
    try:
        prefs = await run_in_threadpool(preferences.load, runtime.db, subscriber_id)
    except NotFound:
        return common.render(request, "public/unsubscribed.html",
                             {"left": [], "gone": True, "preferences": None}, private=True)
    this = next((c.list for c in prefs.choices if c.list.id == list_id), None)
    return common.render(request, "public/unsubscribed.html", {
        "left": left, "gone": False, "all": scope_all or this is None, "this": this,
        "preferences": preferences_url(runtime.settings.base_url, runtime.tokens,
                                       subscriber_id),
    }, private=True)
