"""Managing the admin team: inviting users, changing roles, disabling accounts.

Only administrators get here (the web layer checks ``Permission.ADMINISTER``). The
last active administrator can be neither demoted nor disabled, so nobody locks the
whole team out.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tidings.db import events
from tidings.db import users as db_users
from tidings.db.database import Database
from tidings.domain import emails
from tidings.domain.errors import Conflict, NotFound
from tidings.domain.ids import new_uid
from tidings.domain.roles import Role
from tidings.domain.subscribers import check_name
from tidings.domain.timezones import utcnow
from tidings.domain.users import User
from tidings.services import accounts, outbox
from tidings.services import users as user_passwords


def all_users(db: Database) -> list[User]:
    with db.read() as conn:
        return [accounts.entity(r) for r in db_users.all_users(conn)]


def get(db: Database, ref: str) -> User:
    """A user by public id or login address; :class:`NotFound` otherwise."""
    with db.read() as conn:
        return _locked(conn, ref)


def invite(db: Database, *, email: str, name: str, role: Role, actor: User,
           password: str | None = None) -> User:
    """Create a user. Without a password they get a link by email to choose one."""
    address = emails.normalize(email)
    display = check_name(name)
    role = Role(role)
    chosen = password or secrets.token_urlsafe(32)
    password_hash = user_passwords.hash_password(chosen)
    now = utcnow()
    try:
        with db.write() as conn:
            row = db_users.insert_user(conn, uid=new_uid(), email=address, name=display,
                                       password_hash=password_hash, role=str(role), now=now)
            if password is None:
                outbox.enqueue(conn, kind="password_reset", to_email=address,
                               payload={"user_id": row["id"]}, now=now)
            events.record(conn, "user.created", now, actor=actor.label, subject_type="user",
                          subject_id=row["id"],
                          data={"role": str(role), "invited": password is None})
    except IntegrityError:
        raise Conflict("A user with this address exists already.", field="email") from None
    return accounts.entity(row)


def change_role(db: Database, uid: str, role: Role, *, actor: str) -> User:
    role = Role(role)
    now = utcnow()
    with db.write() as conn:
        target = _locked(conn, uid)
        if target.role is Role.ADMIN and role is not Role.ADMIN:
            _keep_an_admin(conn, target)
        # A new role takes effect at once: end the sessions that carry the old one.
        db_users.bump_session_version(conn, target.id, now, role=str(role))
        events.record(conn, "user.role_changed", now, actor=actor, subject_type="user",
                      subject_id=target.id, data={"from": str(target.role), "to": str(role)})
    return get(db, uid)


def set_active(db: Database, uid: str, active: bool, *, actor: str) -> User:
    """Disable (ending every session at once) or re-enable an account."""
    now = utcnow()
    with db.write() as conn:
        target = _locked(conn, uid)
        if not active and target.role is Role.ADMIN and target.is_active:
            _keep_an_admin(conn, target)
        db_users.bump_session_version(conn, target.id, now, is_active=active)
        events.record(conn, "user.enabled" if active else "user.disabled", now,
                      actor=actor, subject_type="user", subject_id=target.id)
    return get(db, uid)


def set_password(db: Database, ref: str, password: str, *, actor: str) -> User:
    """An operator sets a user's password (``tidings users reset-password``): every
    session ends; the second factor, if any, stays."""
    password_hash = user_passwords.hash_password(password)
    now = utcnow()
    with db.write() as conn:
        target = _locked(conn, ref)
        db_users.bump_session_version(conn, target.id, now, password_hash=password_hash)
        events.record(conn, "auth.password_set", now, actor=actor, subject_type="user",
                      subject_id=target.id)
    return get(db, target.uid)


def _locked(conn: Connection, ref: str) -> User:
    row = db_users.get_by_email(conn, ref) if "@" in ref else db_users.get_by_uid(conn, ref)
    if row is None:
        raise NotFound("No such user.")
    return accounts.entity(row)


def _keep_an_admin(conn: Connection, target: User) -> None:
    if target.is_active and db_users.count_active_admins(conn) <= 1:
        raise Conflict("This is the last active administrator; make someone else an "
                       "administrator first.")
