"""Admin users: creation and password checks (argon2id)."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from tidings.db import events
from tidings.db import users as db_users
from tidings.db.database import Database
from tidings.domain import emails
from tidings.domain.errors import Conflict, ValidationError
from tidings.domain.ids import new_uid
from tidings.domain.roles import Role
from tidings.domain.subscribers import check_name
from tidings.domain.timezones import utcnow

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
_hasher = PasswordHasher()


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.",
                              field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("The password is too long.", field="password")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; constant work whatever the outcome."""
    try:
        return _hasher.verify(password_hash, password[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def create(db: Database, *, email: str, password: str, name: str = "",
           role: Role = Role.ADMIN, actor: str | None = None) -> dict[str, Any]:
    """Create an admin user; raise :class:`Conflict` if the address is taken."""
    address = emails.normalize(email)
    password_hash = hash_password(password)
    now = utcnow()
    try:
        with db.write() as conn:
            user = db_users.insert_user(conn, uid=new_uid(), email=address,
                                        name=check_name(name), password_hash=password_hash,
                                        role=str(Role(role)), now=now)
            events.record(conn, "user.created", now, actor=actor, subject_type="user",
                          subject_id=user["id"], data={"role": str(role)})
    except IntegrityError:
        raise Conflict("A user with this address exists already.", field="email") from None
    return user


def count(db: Database) -> int:
    with db.read() as conn:
        return db_users.count(conn)
