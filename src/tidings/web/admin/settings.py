"""Settings: the runtime settings form, and a read-only view of the mail relays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tidings.domain import settings as registry
from tidings.domain.errors import Conflict, ValidationError
from tidings.domain.users import User
from tidings.services import dkim_keys, runtime_settings
from tidings.web.admin.common import Admin, redirect, render, runtime

router = APIRouter()

MULTILINE = frozenset({"publisher.postal_address", "consent.text"})
GROUPS = (("Publisher", "publisher."), ("Sending", "mail."), ("Consent", "consent."),
          ("Signup protection", "signup."), ("Campaigns", "campaigns."))


@dataclass(frozen=True, slots=True)
class Relay:
    scheme: str
    host: str
    port: int | None
    username: str
    password_set: bool
    options: dict[str, str]


def relays(urls: tuple[str, ...]) -> list[Relay]:
    """The configured relays with their passwords left out."""
    found = []
    for url in urls:
        parts = urlsplit(url)
        found.append(Relay(scheme=parts.scheme, host=parts.hostname or "", port=parts.port,
                           username=parts.username or "", password_set=bool(parts.password),
                           options=dict(parse_qsl(parts.query))))
    return found


def _editable() -> list[registry.RuntimeSetting]:
    """The settings of the form (DKIM keys have their own section, setup none)."""
    prefixes = tuple(prefix for _, prefix in GROUPS)
    return [s for s in registry.REGISTRY if s.name.startswith(prefixes)]


def _context(request: Request, values: dict[str, object]) -> dict[str, object]:
    settings = runtime(request).settings
    return {
        "groups": [(title, [s for s in _editable() if s.name.startswith(prefix)])
                   for title, prefix in GROUPS],
        "values": values, "multiline": MULTILINE,
        "relays": relays(settings.smtp_urls), "outbox_dir": settings.outbox_dir,
        "global_rate": settings.global_rate, "base_url": settings.base_url,
        "dkim_keys": dkim_keys.all_keys(runtime(request).db),
        "mail_domain": settings.mail_domain,
    }


@router.get("/admin/settings", response_class=HTMLResponse)
def show(request: Request, user: Admin) -> Response:
    values = runtime_settings.get_all(runtime(request).db)
    return render(request, "admin/settings.html", _context(request, values),
                  section="settings")


@router.post("/admin/settings", response_class=HTMLResponse)
async def save(request: Request, user: Admin) -> Response:
    form = await request.form()
    return await run_in_threadpool(_save, request, user, form)


def _save(request: Request, user: User, form: FormData) -> Response:
    submitted: dict[str, object] = {}
    for setting in _editable():
        if setting.kind is bool:
            submitted[setting.name] = form.get(setting.name) == "on"
        elif setting.name in form:
            submitted[setting.name] = str(form[setting.name])
    try:
        runtime_settings.update(runtime(request).db, submitted, actor=user.label)
    except ValidationError as exc:
        values = {**runtime_settings.get_all(runtime(request).db), **submitted}
        context = _context(request, values)
        context.update(error=exc.message, error_field=exc.field)
        return render(request, "admin/settings.html", context, status_code=422,
                      section="settings")
    return redirect(request, "/admin/settings", "Settings saved.")


@router.post("/admin/settings/dkim")
def dkim_generate(request: Request, user: Admin, domain: Annotated[str, Form()],
                  selector: Annotated[str, Form()],
                  algorithm: Annotated[str, Form()] = "rsa-sha256") -> Response:
    try:
        made = dkim_keys.generate(runtime(request).db, domain=domain, selector=selector,
                                  algorithm=algorithm, actor=user.label)
    except (ValidationError, Conflict) as exc:
        return redirect(request, "/admin/settings#dkim", exc.message)
    return redirect(request, "/admin/settings#dkim",
                    f"Key created: publish the TXT record of {made.dns_name}.")


@router.post("/admin/settings/dkim/remove")
def dkim_remove(request: Request, user: Admin, domain: Annotated[str, Form()],
                selector: Annotated[str, Form()]) -> Response:
    dkim_keys.remove(runtime(request).db, domain=domain, selector=selector, actor=user.label)
    return redirect(request, "/admin/settings#dkim", "Key removed: mail is no longer signed "
                                                     "with it.")
