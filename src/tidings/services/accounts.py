"""Signing in to the admin: passwords, the second factor, password changes and resets.

Sessions themselves are signed cookies (``web/auth.py``) that carry the user's id
and ``session_version``; every change of credentials bumps the version, which
revokes every session of that user at once. A password reset sets a new password
and nothing else: a user with a second factor still needs a code to sign in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import pyotp
from sqlalchemy import Connection

from tidings.db import events
from tidings.db import users as db_users
from tidings.db.database import Database
from tidings.domain.errors import (
    NotFound,
    PermissionDenied,
    TokenInvalid,
    Unauthenticated,
    ValidationError,
)
from tidings.domain.roles import Role
from tidings.domain.timezones import utcnow
from tidings.domain.users import User
from tidings.mail import links
from tidings.mail.tokens import Purpose, TokenSigner
from tidings.services import outbox, throttle
from tidings.services import users as user_passwords

RESETS_PER_HOUR = 3
TOTP_ISSUER = "Tidings"
WRONG_CREDENTIALS = "The email address or the password is wrong."


@cache
def _dummy_hash() -> str:
    """Checked against when the account does not exist, so both cases cost the same."""
    return user_passwords.hash_password("not-a-real-password-at-all")


def entity(row: dict[str, Any]) -> User:
    return User(id=row["id"], uid=row["uid"], email=row["email"], name=row["name"],
                role=Role(row["role"]), is_active=bool(row["is_active"]),
                totp_enabled=bool(row["totp_secret"]),
                session_version=int(row["session_version"]),
                created_at=row["created_at"], last_login_at=row["last_login_at"])


def get(db: Database, user_id: int) -> User | None:
    with db.read() as conn:
        row = db_users.get(conn, user_id)
    return entity(row) if row else None


def session_user(db: Database, user_id: int, session_version: int) -> User | None:
    """The user a session cookie names, if the session is still valid."""
    user = get(db, user_id)
    if user is None or not user.is_active or user.session_version != session_version:
        return None
    return user


@dataclass(frozen=True, slots=True)
class PasswordChecked:
    """The password was right; ``user.totp_enabled`` says whether a code is still due."""

    user: User


def check_password(db: Database, *, email: str, password: str, ip: str) -> PasswordChecked:
    """The first step of signing in, throttled per account and per address.

    Raises :class:`RateLimited` while locked out and :class:`Unauthenticated`
    (the same message whether the account exists or not) on a wrong password.
    """
    keys = [throttle.account(email), throttle.address(ip)]
    throttle.check(db, keys)
    with db.read() as conn:
        row = db_users.get_by_email(conn, email.strip()) if "@" in email else None
    ok = user_passwords.verify_password(row["password_hash"] if row else _dummy_hash(),
                                        password)
    if not ok or row is None:
        throttle.fail(db, keys)
        with db.write() as conn:
            events.record(conn, "auth.login_failed", utcnow(), actor=f"ip:{ip}",
                          subject_type="user" if row else None,
                          subject_id=row["id"] if row else None)
        raise Unauthenticated(WRONG_CREDENTIALS)
    user = entity(row)
    if not user.totp_enabled:  # with a second factor, only a right code clears the count
        throttle.clear(db, keys[0])
    if not user.is_active:
        raise Unauthenticated("This account is disabled; ask an administrator.")
    if user_passwords.needs_rehash(row["password_hash"]):
        with db.write() as conn:
            db_users.update_user(conn, user.id, utcnow(),
                                 password_hash=user_passwords.hash_password(password))
    return PasswordChecked(user)


def check_second_factor(db: Database, *, user_id: int, session_version: int, code: str,
                        ip: str) -> User:
    """The second step for users with TOTP: a fresh, unused code (throttled too)."""
    user = session_user(db, user_id, session_version)
    if user is None or not user.totp_enabled:
        raise Unauthenticated("Your sign-in has expired; start again.")
    keys = [throttle.account(user.email), throttle.address(ip)]
    throttle.check(db, keys)
    now = utcnow()
    with db.write() as conn:
        row = db_users.get(conn, user.id)
        assert row is not None
        step = _matching_step(row["totp_secret"], code, now.timestamp())
        accepted = step is not None and db_users.use_totp_step(conn, user.id, step)
    if not accepted:
        throttle.fail(db, keys)
        raise Unauthenticated("That code is wrong or was used already.")
    throttle.clear(db, keys[0])
    return user


def complete_login(db: Database, user: User, *, ip: str) -> None:
    now = utcnow()
    with db.write() as conn:
        db_users.update_user(conn, user.id, now, last_login_at=now)
        events.record(conn, "auth.login", now, actor=user.label, subject_type="user",
                      subject_id=user.id, data={"ip": ip})


def change_password(db: Database, user: User, *, current: str, new: str) -> User:
    """Change one's own password; every session of the user ends (bump the version)."""
    with db.read() as conn:
        row = db_users.get(conn, user.id)
    if row is None or not user_passwords.verify_password(row["password_hash"], current):
        raise ValidationError("The current password is wrong.", field="current_password")
    new_hash = user_passwords.hash_password(new)
    now = utcnow()
    with db.write() as conn:
        db_users.bump_session_version(conn, user.id, now, password_hash=new_hash)
        events.record(conn, "auth.password_changed", now, actor=user.label,
                      subject_type="user", subject_id=user.id)
    changed = get(db, user.id)
    assert changed is not None
    return changed


def request_password_reset(db: Database, *, email: str, ip: str) -> None:
    """Queue a reset link for an active account; silent either way (no account probing).

    The worker builds the link (:func:`tidings.mail.links.password_reset_url`) when it
    sends the message."""
    now = utcnow()
    with db.write() as conn:
        row = db_users.get_by_email(conn, email.strip()) if "@" in email else None
        if row is None or not row["is_active"]:
            return
        if outbox.sent_recently(conn, to_email=row["email"], kind="password_reset",
                                hours=1) >= RESETS_PER_HOUR:
            return
        outbox.enqueue(conn, kind="password_reset", to_email=row["email"],
                       payload={"user_id": row["id"]}, now=now)
        events.record(conn, "auth.reset_requested", now, actor=f"ip:{ip}",
                      subject_type="user", subject_id=row["id"])


def reset_target(db: Database, tokens: TokenSigner, token: str) -> User:
    """The user a reset link is for; raise :class:`TokenInvalid` once it has been used."""
    user_id, version, _ = tokens.verify(Purpose.PASSWORD_RESET, token, arity=3,
                                        max_age=links.PASSWORD_RESET_MAX_AGE)
    user = get(db, user_id)
    if user is None or not user.is_active or user.session_version != version:
        raise TokenInvalid("This reset link has been used or is no longer valid.")
    return user


def reset_password(db: Database, tokens: TokenSigner, token: str, *, new: str) -> User:
    """Set a new password from a reset link; the link dies, every session ends.

    The second factor stays as it was: signing in afterwards still asks for a code.
    """
    user = reset_target(db, tokens, token)
    new_hash = user_passwords.hash_password(new)
    now = utcnow()
    with db.write() as conn:
        row = db_users.get(conn, user.id)
        if row is None or row["session_version"] != user.session_version:
            raise TokenInvalid("This reset link has been used or is no longer valid.")
        db_users.bump_session_version(conn, user.id, now, password_hash=new_hash)
        events.record(conn, "auth.password_reset", now, actor=user.label,
                      subject_type="user", subject_id=user.id)
    throttle.clear(db, throttle.account(user.email))
    changed = get(db, user.id)
    assert changed is not None
    return changed


# Second factor ------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str, issuer: str = TOTP_ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def _matching_step(secret: str | None, code: str, now: float) -> int | None:
    """The time step whose code is ``code`` (now, or one step either side)."""
    code = code.strip().replace(" ", "")
    if not secret or not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None


def enable_totp(db: Database, user: User, *, secret: str, code: str, password: str) -> User:
    """Turn on the second factor after the user proved both password and a first code."""
    with db.read() as conn:
        row = db_users.get(conn, user.id)
    if row is None or not user_passwords.verify_password(row["password_hash"], password):
        raise ValidationError("The password is wrong.", field="password")
    now = utcnow()
    step = _matching_step(secret, code, now.timestamp())
    if step is None:
        raise ValidationError("That code does not match; check the clock of your device.",
                              field="code")
    with db.write() as conn:
        db_users.bump_session_version(conn, user.id, now, totp_secret=secret,
                                      totp_last_step=step)
        events.record(conn, "auth.totp_enabled", now, actor=user.label, subject_type="user",
                      subject_id=user.id)
    changed = get(db, user.id)
    assert changed is not None
    return changed


def disable_totp(db: Database, user: User, *, password: str) -> User:
    with db.read() as conn:
        row = db_users.get(conn, user.id)
    if row is None or not user_passwords.verify_password(row["password_hash"], password):
        raise ValidationError("The password is wrong.", field="password")
    return _clear_totp(db, user.id, actor=user.label)


def reset_totp(db: Database, actor: User, target_uid: str) -> User:
    """An administrator removes another user's second factor (a lost phone)."""
    if actor.uid == target_uid:
        raise PermissionDenied("Turn off your own second factor from your account page.")
    with db.read() as conn:
        target = _find(conn, target_uid)
    return _clear_totp(db, target.id, actor=actor.label)


def _clear_totp(db: Database, user_id: int, *, actor: str) -> User:
    now = utcnow()
    with db.write() as conn:
        db_users.bump_session_version(conn, user_id, now, totp_secret=None,
                                      totp_last_step=None)
        events.record(conn, "auth.totp_disabled", now, actor=actor, subject_type="user",
                      subject_id=user_id)
    changed = get(db, user_id)
    assert changed is not None
    return changed


def _find(conn: Connection, uid: str) -> User:
    row = db_users.get_by_uid(conn, uid)
    if row is None:
        raise NotFound("No such user.")
    return entity(row)
