"""CSRF protection for HTML forms: a signed double-submit token.

A random value lives in an HttpOnly, SameSite=Lax cookie; every form carries
``HMAC(secret, value)`` in a hidden field (``csrf_token``), or a script sends it in the
``X-CSRF-Token`` header. Another site can neither read the cookie nor compute the
MAC, so it cannot forge the field, and the cookie alone proves nothing.

Use::

    csrf.install(app)                                # once, sets the cookie when needed
    router = APIRouter(dependencies=[Depends(csrf.protect)])  # unsafe methods checked
    {{ csrf_field(request) }}                        # in a form (templates get it)

Not for the RFC 8058 one-click unsubscribe POST, which mail software sends without
any cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import FastAPI, Request
from markupsafe import Markup
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.domain.errors import PermissionDenied

COOKIE = "tidings_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_STATE = "csrf_cookie"


def _key(request: Request) -> bytes:
    secret: str = request.app.state.runtime.settings.secret_key
    return hmac.digest(secret.encode(), b"tidings-csrf", "sha256")


def _cookie_value(request: Request) -> str:
    value = request.cookies.get(COOKIE, "")
    if len(value) == 43 and value.isascii():
        return value
    fresh: str | None = request.scope.setdefault("state", {}).get(_STATE)
    if fresh is None:
        fresh = secrets.token_urlsafe(32)
        request.scope["state"][_STATE] = fresh
    return fresh


def token(request: Request) -> str:
    """The token for forms on this page (the cookie is set on the response if new)."""
    value = _cookie_value(request)
    return hmac.new(_key(request), value.encode(), hashlib.sha256).hexdigest()


def field(request: Request) -> Markup:
    """A hidden input carrying :func:`token`, for templates."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, token(request))


def verify(request: Request, submitted: str | None) -> None:
    """Raise :class:`PermissionDenied` unless ``submitted`` matches this browser's cookie."""
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or not submitted:
        raise PermissionDenied("This form has expired or did not come from this site; "
                               "reload the page and try again.")
    expected = hmac.new(_key(request), cookie.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, submitted):
        raise PermissionDenied("This form has expired or did not come from this site; "
                               "reload the page and try again.")


async def protect(request: Request) -> None:
    """A dependency: check the token on every unsafe request (form field or header)."""
    if request.method in SAFE_METHODS:
        return
    submitted = request.headers.get(HEADER)
    if submitted is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded",
                                    "multipart/form-data")):
            form = await request.form()
            value = form.get(FIELD)
            submitted = value if isinstance(value, str) else None
    verify(request, submitted)


class _CookieMiddleware:
    """Sets the CSRF cookie on responses of requests that minted a new value."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                fresh = scope.get("state", {}).get(_STATE)
                if fresh:
                    secure = "; Secure" if scope.get("scheme") == "https" else ""
                    headers = MutableHeaders(scope=message)
                    headers.append("set-cookie", f"{COOKIE}={fresh}; Path=/; HttpOnly; "
                                                 f"SameSite=Lax{secure}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def install(app: FastAPI) -> None:
    """Add the cookie middleware once, and ``csrf_field`` to the page templates."""
    if getattr(app.state, "csrf_installed", False):
        return
    app.state.csrf_installed = True
    app.add_middleware(_CookieMiddleware)
    from tidings.web import pages

    pages.environment().globals["csrf_field"] = field
