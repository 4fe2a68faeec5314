"""Admin sessions: signed cookies naming the user and their session version.

The session cookie carries ``(user id, session_version)`` signed with the secret key
(itsdangerous) and expires :data:`SESSION_MAX_AGE` after sign-in. A request is signed
in only while the user is active and their ``session_version`` still matches, so
bumping it (password change or reset, second factor changed, role changed, account
disabled) ends every session of that user at once. Cookies are HttpOnly,
SameSite=Lax, and Secure when the request came over HTTPS.

Between the password and the second factor a short-lived "pending" cookie remembers
who passed the first step; it is not a session and opens nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from tidings.domain.users import User
from tidings.services import accounts

SESSION_COOKIE = "tidings_session"
PENDING_COOKIE = "tidings_pending"
FLASH_COOKIE = "tidings_flash"
SESSION_MAX_AGE = 12 * 3600
PENDING_MAX_AGE = 5 * 60


def _signer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"tidings.admin.{purpose}")


def _serializer(request: Request, purpose: str) -> URLSafeTimedSerializer:
    return _signer(request.app.state.runtime.settings.secret_key, purpose)


def session_value(secret_key: str, user: User) -> str:
    """The signed value of a session cookie for ``user``."""
    return _signer(secret_key, "session").dumps({"u": user.id, "v": user.session_version})


def _set(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


def _load(request: Request, name: str, purpose: str, max_age: int) -> Any:
    raw = request.cookies.get(name)
    if not raw:
        return None
    try:
        return _serializer(request, purpose).loads(raw, max_age=max_age)
    except BadSignature:
        return None


def start_session(request: Request, response: Response, user: User) -> None:
    value = session_value(request.app.state.runtime.settings.secret_key, user)
    _set(request, response, SESSION_COOKIE, value, SESSION_MAX_AGE)
    response.delete_cookie(PENDING_COOKIE, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(PENDING_COOKIE, path="/")


def current_user(request: Request) -> User | None:
    """The signed-in user, or None (looked up once per request)."""
    if hasattr(request.state, "user"):
        found: User | None = request.state.user
        return found
    data = _load(request, SESSION_COOKIE, "session", SESSION_MAX_AGE)
    user = None
    if isinstance(data, dict) and isinstance(data.get("u"), int) \
            and isinstance(data.get("v"), int):
        user = accounts.session_user(request.app.state.runtime.db, data["u"], data["v"])
    request.state.user = user
    return user


@dataclass(frozen=True, slots=True)
class Pending:
    user_id: int
    session_version: int
    next_url: str


def start_pending(request: Request, response: Response, user: User, next_url: str) -> None:
    value = _serializer(request, "pending").dumps(
        {"u": user.id, "v": user.session_version, "n": next_url})
    _set(request, response, PENDING_COOKIE, value, PENDING_MAX_AGE)


def pending(request: Request) -> Pending | None:
    data = _load(request, PENDING_COOKIE, "pending", PENDING_MAX_AGE)
    if not isinstance(data, dict):
        return None
    try:
        return Pending(int(data["u"]), int(data["v"]), str(data.get("n") or ""))
    except (KeyError, TypeError, ValueError):
        return None


def flash(request: Request, response: Response, message: str) -> None:
    """A one-line notice shown on the next page."""
    _set(request, response, FLASH_COOKIE, _serializer(request, "flash").dumps(message), 60)


def take_flash(request: Request) -> str | None:
    message = _load(request, FLASH_COOKIE, "flash", 60)
    return message if isinstance(message, str) else None
