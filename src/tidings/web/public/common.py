"""What the public routes share: reading forms, origins and redirects, page headers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from tidings.bootstrap import Runtime
from tidings.domain import emails
from tidings.domain.errors import InvalidEmail, PayloadTooLarge, RateLimited, ValidationError
from tidings.services import runtime_settings
from tidings.services.signup_guard import SignupGuard, Verdict
from tidings.web import pages
from tidings.web.deps import client_ip

MAX_FORM_BYTES = 64 * 1024
MAX_FIELDS = 200
_DEFAULT_PORTS = {"http": 80, "https": 443}


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def guard(request: Request) -> SignupGuard:
    found: SignupGuard = request.app.state.signup_guard
    return found


def settings_values(request: Request) -> dict[str, Any]:
    return runtime_settings.get_all(runtime(request).db)


@dataclass(frozen=True, slots=True)
class Form:
    """The fields of a submitted form (each name may repeat)."""

    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))

    def __contains__(self, name: str) -> bool:
        return name in self.fields


async def read_form(request: Request, *, limit: int = MAX_FORM_BYTES) -> Form:
    """Read an urlencoded or multipart body of at most ``limit`` bytes (no files)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge("The form is too large.")
    if content_type == "multipart/form-data":
        parsed: FormData = await request.form(max_files=0, max_fields=MAX_FIELDS,
                                              max_part_size=limit)
        fields: dict[str, list[str]] = {}
        for key, value in parsed.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, []).append(value)
        return Form(fields)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge("The form is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                          max_num_fields=MAX_FIELDS, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("The form could not be read.") from None
    fields = {}
    for key, value in pairs:
        fields.setdefault(key, []).append(value)
    return Form(fields)


def signup_client(request: Request) -> tuple[str, str | None]:
    """The IP address and user agent of a signup, once its network is within its limit.

    Raises :class:`RateLimited` when the network has sent too many signups lately."""
    ip, agent = client(request)
    wait = guard(request).ip_wait(ip, int(settings_values(request)["signup.ip_limit"]))
    if wait:
        raise RateLimited("Too many signups from your network; please try again later.",
                          retry_after=wait)
    return ip, agent


def answer_quietly(request: Request, verdict: Verdict, email: str) -> bool:
    """Count a signup request for ``email``; True when it is to be answered as usual but
    not acted upon: judged automated, or the address is over its daily limit."""
    if verdict is Verdict.QUIET:
        return True
    try:
        address = emails.normalize(email)
    except InvalidEmail:
        return False  # the signup itself reports the bad address
    limit = int(settings_values(request)["signup.address_limit"])
    return guard(request).address_over(address, limit)


def client(request: Request) -> tuple[str, str | None]:
    """The IP address and user agent recorded with consents."""
    agent = request.headers.get("user-agent")
    return client_ip(request), agent[:512] if agent else None


# -- origins and redirects ------------------------------------------------------------------

Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an absolute http(s) URL, or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


def allowed_origins(request: Request, *, include_self: bool) -> set[Origin]:
    """The publisher's sites (``TIDINGS_CORS_ORIGINS``), and Tidings itself if asked."""
    settings = runtime(request).settings
    urls: Iterable[str] = settings.cors_origins
    if include_self:
        urls = [*urls, settings.base_url]
    return {o for o in map(origin_of, urls) if o is not None}


def cors_origin(request: Request) -> str | None:
    """The request's ``Origin`` when it is one of the publisher's sites."""
    origin = request.headers.get("origin")
    if origin and origin_of(origin) in allowed_origins(request, include_self=False):
        return origin
    return None


def safe_return(request: Request, value: str | None) -> str | None:
    """``value`` as a URL to send the reader back to, or None unless it is on an allowed
    origin. Never an open redirect: anything odd is refused, and the URL is rebuilt from
    its parsed parts so that no two parsers can read it differently."""
    if not value or len(value) > 2000 or any(ord(c) < 33 or c in "\\\x7f" for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None
    if origin_of(value) not in allowed_origins(request, include_self=True):
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


# -- pages ------------------------------------------------------------------------------------

def page_headers(request: Request, *, private: bool) -> dict[str, str]:
    """Security headers of public pages.

    ``private`` pages carry a credential in their URL (preferences, unsubscribe,
    confirmation): never cached, never framed, and no Referer leaves them for another
    site. (Not ``no-referrer``: browsers then send ``Origin: null`` with form posts,
    which :func:`tidings.web.csrf.check` refuses.)
    """
    framers = "'none'"
    if not private:
        framers = " ".join(["'self'", *sorted(
            f"{s}://{h}" if p == _DEFAULT_PORTS[s] else f"{s}://{h}:{p}"
            for s, h, p in allowed_origins(request, include_self=False))])
    headers = {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' https: data:; style-src 'self' "
            f"'unsafe-inline'; script-src 'self'; base-uri 'none'; frame-ancestors {framers}"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin" if private else "strict-origin-when-cross-origin",
    }
    if private:
        headers["Cache-Control"] = "no-store"
        headers["X-Robots-Tag"] = "noindex, nofollow"
    return headers


def render(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200,
           private: bool = False) -> HTMLResponse:
    """Render a public page with its security headers."""
    values = settings_values(request)
    privacy = str(values.get("publisher.privacy_url") or "")
    ctx = {"privacy_url": privacy if origin_of(privacy) else "", **context}
    return pages.render(request, name, ctx, status_code=status_code,
                        headers=page_headers(request, private=private))
