"""What every admin page shares: who is signed in, what they may do, how pages render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from tidings.bootstrap import Runtime
from tidings.domain.errors import PermissionDenied
from tidings.domain.roles import Permission
from tidings.domain.users import User
from tidings.services import setup
from tidings.web import auth, csrf, pages

# Admin pages never load anything from elsewhere and are never framed by other sites.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
       "object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Redirect(Exception):
    """Raised by dependencies to send the browser elsewhere (sign-in, setup notice)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def signed_in(request: Request) -> User:
    """The signed-in user; otherwise off to the setup notice or the sign-in page."""
    if setup.pending(runtime(request).db):
        raise Redirect("/admin/setup-pending")
    user = auth.current_user(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise Redirect(f"/admin/login?next={quote(target)}")
    return user


def require(permission: Permission) -> Callable[[Request], User]:
    """A dependency: the signed-in user, who must hold ``permission``."""
    def dependency(request: Request) -> User:
        user = signed_in(request)
        if not user.can(permission):
            raise PermissionDenied(f"Your role ({user.role}) does not allow this.")
        return user
    return dependency


Reader = Annotated[User, Depends(require(Permission.READ))]
Writer = Annotated[User, Depends(require(Permission.WRITE))]
Sender = Annotated[User, Depends(require(Permission.SEND))]
Admin = Annotated[User, Depends(require(Permission.ADMINISTER))]


def csrf_binding(request: Request) -> str:
    """What a form's CSRF token is bound to: the session itself once signed in, the
    page otherwise (sign-in, setup and reset pages post back to where they were shown;
    the setup and reset paths carry their own signed token)."""
    session = request.cookies.get(auth.SESSION_COOKIE)
    if session and auth.current_user(request) is not None:
        return "admin-session:" + session
    return "admin-page:" + request.url.path


def csrf_field(request: Request) -> Markup:
    """The hidden input every admin form carries."""
    token = csrf.issue(runtime(request).settings.secret_key, csrf_binding(request))
    return Markup('<input type="hidden" name="{}" value="{}">').format(csrf.FIELD, token)


async def csrf_protect(request: Request) -> None:
    """A dependency of every admin route: unsafe methods need a valid token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    submitted = request.headers.get("x-csrf-token")
    if submitted is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded",
                                    "multipart/form-data")):
            value = (await request.form()).get(csrf.FIELD)
            submitted = value if isinstance(value, str) else None
    binding = await run_in_threadpool(csrf_binding, request)  # reads the session's user
    csrf.check(request, runtime(request).settings.secret_key, binding, submitted)


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200, section: str = "") -> HTMLResponse:
    """An admin page with the navigation, the signed-in user and any flash notice."""
    message = auth.take_flash(request)
    ctx: dict[str, Any] = {
        "user": getattr(request.state, "user", None), "section": section,
        "flash": message, "Permission": Permission, "csrf_field": csrf_field,
    }
    ctx.update(context or {})
    response = pages.render(request, template, ctx, status_code=status_code,
                            headers=SECURITY_HEADERS)
    if message is not None:
        response.delete_cookie(auth.FLASH_COOKIE, path="/")
    return response


def redirect(request: Request, url: str, message: str | None = None) -> RedirectResponse:
    """A 303 to ``url`` (after a form post), with an optional notice for the next page."""
    response = RedirectResponse(url, status_code=303)
    if message:
        auth.flash(request, response, message)
    return response


def safe_next(url: str | None, default: str = "/admin") -> str:
    """Only local admin paths are followed after sign-in (no open redirect)."""
    if not url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin") \
            or url.startswith("//") or "\\" in url:
        return default
    return url


def with_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response
