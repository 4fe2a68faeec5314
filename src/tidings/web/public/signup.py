"""The hosted signup page ``/subscribe`` and the form posts of the embeddable snippet.

Without JavaScript the snippet's plain form lands here without a signed render time;
the reader then sees this page filled in with what they typed and presses Subscribe
once more (nothing is stored before). With a ``return_to`` address (or a Referer) on
one of the publisher's sites, a successful signup redirects back there, to
``#tidings-check-inbox`` or ``#tidings-subscribed``, which the snippet shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tidings.domain.errors import NotFound, ValidationError
from tidings.domain.lists import MailingList
from tidings.services import signups
from tidings.services.signup_guard import Verdict
from tidings.web.public import common

router = APIRouter()

HONEYPOT = "website"
STALE_NOTICE = "Almost done: check your details and press Subscribe."
ALTCHA_ERROR = ("Please wait a moment until the spam check below has finished, then "
                "subscribe again. The check needs JavaScript.")


@router.get("/subscribe", include_in_schema=False)
def subscribe_page(request: Request) -> Response:
    return _form_page(request, typed=Typed(chosen=frozenset(request.query_params.getlist("list"))))


@router.get("/subscribe/{ref}", include_in_schema=False)
def subscribe_to_list(request: Request, ref: str) -> Response:
    lists = signups.offered(common.runtime(request).db)
    match = next((m for m in lists if ref in (m.uid, m.slug)), None)
    if match is None:
        raise NotFound("There is no such newsletter.")
    return _form_page(request, lists=lists, typed=Typed(chosen=frozenset({match.uid})))


@router.post("/subscribe", include_in_schema=False)
async def subscribe(request: Request) -> Response:
    guard = common.guard(request)
    values = common.settings_values(request)
    ip, agent = common.signup_client(request)
    form = await common.read_form(request)
    source = "embed" if form.get("source") == "embed" else "form"
    return_to = common.safe_return(request, form.get("return_to"))
    referer = request.headers.get("referer", "")
    if return_to is None and source == "embed" and common.origin_of(referer) in \
            common.allowed_origins(request, include_self=False):
        # Back to the publisher's page the snippet was on; never to a Tidings page (the
        # Referer of the form shown again below).
        return_to = common.safe_return(request, referer)
    typed = Typed(email=form.get("email"), name=form.get("name"),
                  chosen=frozenset(form.getlist("lists")), source=source, return_to=return_to)
    verdict = guard.judge(form_token=form.get("ts"), honeypot=form.get(HONEYPOT),
                          min_fill_seconds=float(values["signup.min_fill_seconds"]))
    if verdict is Verdict.STALE:
        return await run_in_threadpool(_form_page, request, notice=STALE_NOTICE, typed=typed)
    if (verdict is Verdict.ACCEPT and values["signup.altcha"]
            and not guard.altcha_ok(form.get("altcha"))):
        return await run_in_threadpool(_form_page, request, errors={"form": ALTCHA_ERROR},
                                       status_code=422, typed=typed)
    request_ = signups.Signup(
        email=form.get("email"), name=form.get("name"), lists=form.getlist("lists"),
        source=source, consent_hash=form.get("consent_hash") or None, ip=ip,
        user_agent=agent)
    quiet = common.answer_quietly(request, verdict, request_.email)
    try:
        answer = await signups.signup_async(common.runtime(request).db, request_,
                                            quiet=quiet)
    except ValidationError as exc:
        field = exc.field if exc.field in ("email", "lists", "name") else "form"
        return await run_in_threadpool(_form_page, request, errors={field: exc.message},
                                       status_code=422, typed=typed)
    if return_to:
        anchor = "tidings-check-inbox" if answer.pending else "tidings-subscribed"
        return RedirectResponse(f"{return_to}#{anchor}", status_code=303)
    return common.render(request, "public/subscribed.html", {"answer": answer})


@dataclass(frozen=True, slots=True)
class Typed:
    """What the reader entered, to show again."""

    email: str = ""
    name: str = ""
    chosen: frozenset[str] = frozenset()
    source: str = "form"
    return_to: str | None = None


def _form_page(request: Request, *, typed: Typed, lists: list[MailingList] | None = None,
               errors: dict[str, str] | None = None, notice: str | None = None,
               status_code: int = 200) -> Response:
    db = common.runtime(request).db
    values = common.settings_values(request)
    text = signups.consent_text(values)
    context: dict[str, Any] = {
        "lists": lists if lists is not None else signups.offered(db),
        "chosen": typed.chosen,
        "email": typed.email,
        "name": typed.name,
        "source": typed.source,
        "return_to": typed.return_to or "",
        "errors": errors or {},
        "notice": notice,
        "consent_text": text,
        "consent_hash": signups.remember_consent_text(db, text),
        "form_token": common.guard(request).form_token(),
        "altcha": bool(values["signup.altcha"]),
        "no_list": signups.NO_LIST,
    }
    return common.render(request, "public/subscribe.html", context, status_code=status_code)
