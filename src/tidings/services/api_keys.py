"""API keys: created with a role, shown once, stored as a hash, revocable."""

from __future__ import annotations

from datetime import timedelta

from tidings.db import api_keys as db_api_keys
from tidings.db import events
from tidings.db.database import Database
from tidings.domain import api_keys as domain
from tidings.domain.api_keys import ApiKey
from tidings.domain.errors import NotFound, Unauthenticated
from tidings.domain.ids import new_uid
from tidings.domain.lists import check_name
from tidings.domain.roles import Role
from tidings.domain.timezones import utcnow
from tidings.domain.users import User

# last_used_at is a hint for people, not an audit: refresh it at most this often.
TOUCH_EVERY = timedelta(minutes=1)


def create(db: Database, *, name: str, role: Role, actor: User) -> tuple[ApiKey, str]:
    """A new key and its secret text, which is never shown again."""
    clean = check_name(name)
    secret, prefix = domain.new_key()
    now = utcnow()
    with db.write() as conn:
        created = db_api_keys.insert_key(conn, uid=new_uid(), name=clean, role=Role(role),
                                         prefix=prefix, key_hash=domain.key_hash(secret),
                                         created_by=actor.id, now=now)
        events.record(conn, "api_key.created", now, actor=actor.label,
                      subject_type="api_key", subject_id=created.id,
                      data={"role": str(role), "prefix": prefix})
    return created, secret


def all_keys(db: Database) -> list[ApiKey]:
    with db.read() as conn:
        return db_api_keys.all_keys(conn)


def revoke(db: Database, uid: str, *, actor: User) -> ApiKey:
    now = utcnow()
    with db.write() as conn:
        found = db_api_keys.get_by_uid(conn, uid)
        if found is None:
            raise NotFound("No such API key.")
        db_api_keys.revoke(conn, found.id, now)
        events.record(conn, "api_key.revoked", now, actor=actor.label,
                      subject_type="api_key", subject_id=found.id)
        changed = db_api_keys.get_by_uid(conn, uid)
    assert changed is not None
    return changed


def authenticate(db: Database, secret: str) -> ApiKey:
    """The active key with this secret; raise :class:`Unauthenticated` otherwise."""
    if not domain.well_formed(secret):
        raise Unauthenticated("The API key is malformed.")
    digest = domain.key_hash(secret)
    with db.read() as conn:
        found = db_api_keys.get_by_hash(conn, digest)
    if found is None or not found.active:
        raise Unauthenticated("The API key is unknown or revoked.")
    now = utcnow()
    if found.last_used_at is None or now - found.last_used_at > TOUCH_EVERY:
        with db.write() as conn:
            db_api_keys.touch(conn, found.id, now)
    return found
