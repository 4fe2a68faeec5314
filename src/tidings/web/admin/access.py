"""Getting in: first-run setup, sign-in with an optional second factor, password
resets, and one's own account (password, second factor)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from tidings.domain.errors import (
    RateLimited,
    TokenInvalid,
    Unauthenticated,
    ValidationError,
)
from tidings.domain.users import User
from tidings.services import accounts, runtime_settings, setup
from tidings.web import auth
from tidings.web.admin.common import Reader, redirect, render, runtime, safe_next
from tidings.web.deps import client_ip

router = APIRouter()
Text = Annotated[str, Form()]
OptionalText = Annotated[str, Form()]


# First run --------------------------------------------------------------------------

@router.get("/admin/setup-pending", response_class=HTMLResponse)
def setup_pending(request: Request) -> Response:
    if not setup.pending(runtime(request).db):
        return redirect(request, "/admin")
    return render(request, "admin/setup_pending.html")


@router.get("/admin/setup/{token}", response_class=HTMLResponse)
def setup_form(request: Request, token: str) -> Response:
    setup.check_token(runtime(request).db, runtime(request).tokens, token)
    return render(request, "admin/setup.html", {"form": {}, "token": token})


@router.post("/admin/setup/{token}", response_class=HTMLResponse)
def setup_submit(request: Request, token: str, email: Text, password: Text,
                 publisher_name: Text, postal_address: Text, from_email: Text,
                 name: OptionalText = "") -> Response:
    rt = runtime(request)
    form = {"email": email, "name": name, "publisher_name": publisher_name,
            "postal_address": postal_address, "from_email": from_email}
    try:
        user = setup.complete(rt.db, rt.tokens, token, email=email, name=name,
                              password=password, publisher_name=publisher_name,
                              postal_address=postal_address, from_email=from_email)
    except ValidationError as exc:
        return render(request, "admin/setup.html",
                      {"form": form, "token": token, "error": exc.message,
                       "error_field": exc.field}, status_code=422)
    accounts.complete_login(rt.db, user, ip=client_ip(request))
    response = redirect(request, "/admin", "Welcome to Tidings. Setup is complete.")
    auth.start_session(request, response, user)
    return response


# Signing in ---------------------------------------------------------------------------

@router.get("/admin/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> Response:
    if setup.pending(runtime(request).db):
        return redirect(request, "/admin/setup-pending")
    if auth.current_user(request) is not None:
        return redirect(request, safe_next(next))
    return render(request, "admin/login.html", {"next": safe_next(next), "email": ""})


@router.post("/admin/login", response_class=HTMLResponse)
def login_submit(request: Request, email: Text, password: Text,
                 next: OptionalText = "") -> Response:
    rt = runtime(request)
    target = safe_next(next)
    try:
        checked = accounts.check_password(rt.db, email=email, password=password,
                                          ip=client_ip(request))
    except (Unauthenticated, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        response: Response = render(request, "admin/login.html",
                          {"next": target, "email": email, "error": exc.message},
                          status_code=status)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(max(1, int(exc.retry_after)))
        return response
    if checked.user.totp_enabled:
        response = redirect(request, "/admin/login/code")
        auth.start_pending(request, response, checked.user, target)
        return response
    accounts.complete_login(rt.db, checked.user, ip=client_ip(request))
    response = redirect(request, target)
    auth.start_session(request, response, checked.user)
    return response


@router.get("/admin/login/code", response_class=HTMLResponse)
def code_form(request: Request) -> Response:
    if auth.pending(request) is None:
        return redirect(request, "/admin/login", "Your sign-in expired; start again.")
    return render(request, "admin/code.html")


@router.post("/admin/login/code", response_class=HTMLResponse)
def code_submit(request: Request, code: Text) -> Response:
    rt = runtime(request)
    step = auth.pending(request)
    if step is None:
        return redirect(request, "/admin/login", "Your sign-in expired; start again.")
    try:
        user = accounts.check_second_factor(rt.db, user_id=step.user_id,
                                            session_version=step.session_version,
                                            code=code, ip=client_ip(request))
    except (Unauthenticated, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        return render(request, "admin/code.html", {"error": exc.message},
                      status_code=status)
    accounts.complete_login(rt.db, user, ip=client_ip(request))
    response = redirect(request, safe_next(step.next_url))
    auth.start_session(request, response, user)
    return response


@router.post("/admin/logout")
def logout(request: Request) -> Response:
    response = redirect(request, "/admin/login", "You are signed out.")
    auth.end_session(response)
    return response


# Password reset -----------------------------------------------------------------------

@router.get("/admin/forgot", response_class=HTMLResponse)
def forgot_form(request: Request) -> Response:
    return render(request, "admin/forgot.html")


@router.post("/admin/forgot", response_class=HTMLResponse)
def forgot_submit(request: Request, email: Text) -> Response:
    rt = runtime(request)
    accounts.request_password_reset(rt.db, email=email, ip=client_ip(request))
    return render(request, "admin/forgot.html", {"sent": True})


@router.get("/admin/reset/{token}", response_class=HTMLResponse)
def reset_form(request: Request, token: str) -> Response:
    rt = runtime(request)
    user = accounts.reset_target(rt.db, rt.tokens, token)
    return render(request, "admin/reset.html", {"token": token, "email": user.email})


@router.post("/admin/reset/{token}", response_class=HTMLResponse)
def reset_submit(request: Request, token: str, password: Text) -> Response:
    rt = runtime(request)
    try:
        user = accounts.reset_password(rt.db, rt.tokens, token, new=password)
    except ValidationError as exc:
        target = accounts.reset_target(rt.db, rt.tokens, token)
        return render(request, "admin/reset.html",
                      {"token": token, "email": target.email, "error": exc.message},
                      status_code=422)
    note = "Your password is changed. Sign in with it"
    note += " and a code from your authenticator app." if user.totp_enabled else "."
    response = redirect(request, "/admin/login", note)
    auth.end_session(response)
    return response


# One's own account -------------------------------------------------------------------

def _totp_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime(request).settings.secret_key,
                                  salt="tidings.admin.totp-enrolment")


@router.get("/admin/account", response_class=HTMLResponse)
def account(request: Request, user: Reader) -> Response:
    context: dict[str, object] = {}
    if not user.totp_enabled:
        secret = accounts.new_totp_secret()
        issuer = str(runtime_settings.get(runtime(request).db, "publisher.name") or "Tidings")
        context = {"totp_secret": secret,
                   "totp_uri": accounts.totp_uri(secret, user.email, f"{issuer} (Tidings)"),
                   "totp_sealed": _totp_signer(request).dumps([user.id, secret])}
    return render(request, "admin/account.html", context, section="account")


@router.post("/admin/account/password")
def account_password(request: Request, user: Reader, current_password: Text,
                     new_password: Text) -> Response:
    return _account_changed(
        request, lambda: accounts.change_password(runtime(request).db, user,
                                                  current=current_password, new=new_password),
        "Password changed. Every other session was signed out.")


@router.post("/admin/account/totp")
def account_totp_enable(request: Request, user: Reader, sealed: Text, code: Text,
                        password: Text) -> Response:
    try:
        user_id, secret = _totp_signer(request).loads(sealed, max_age=1800)
    except BadSignature:
        raise TokenInvalid("The enrolment expired; start again.") from None
    if user_id != user.id:
        raise TokenInvalid("The enrolment expired; start again.")
    return _account_changed(
        request, lambda: accounts.enable_totp(runtime(request).db, user, secret=secret,
                                              code=code, password=password),
        "Two-factor sign-in is on. Other sessions were signed out.")


@router.post("/admin/account/totp/disable")
def account_totp_disable(request: Request, user: Reader, password: Text) -> Response:
    return _account_changed(
        request, lambda: accounts.disable_totp(runtime(request).db, user, password=password),
        "Two-factor sign-in is off.")


def _account_changed(request: Request, change: Callable[[], User], done: str) -> Response:
    """Apply a change to the signed-in account, which signs out its other sessions, and
    start a fresh session for this one; a refused change is shown on the account page."""
    try:
        changed = change()
    except ValidationError as exc:
        return redirect(request, "/admin/account", exc.message)
    response = redirect(request, "/admin/account", done)
    auth.start_session(request, response, changed)
    return response
