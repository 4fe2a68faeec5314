"""Queries on API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from tidings.db.tables import api_keys
from tidings.domain.api_keys import ApiKey
from tidings.domain.roles import Role


def _entity(row: Row[Any]) -> ApiKey:
    return ApiKey(id=row.id, uid=row.uid, name=row.name, role=Role(row.role),
                  prefix=row.prefix, created_at=row.created_at,
                  last_used_at=row.last_used_at, revoked_at=row.revoked_at)


def insert_key(conn: Connection, *, uid: str, name: str, role: Role, prefix: str,
               key_hash: str, created_by: int | None, now: datetime) -> ApiKey:
    row = conn.execute(insert(api_keys).values(
        uid=uid, name=name, role=str(role), prefix=prefix, key_hash=key_hash,
        created_by=created_by, created_at=now).returning(*api_keys.c)).one()
    return _entity(row)


def get_by_hash(conn: Connection, key_hash: str) -> ApiKey | None:
    row = conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).one_or_none()
    return _entity(row) if row else None


def get_by_uid(conn: Connection, uid: str) -> ApiKey | None:
    row = conn.execute(select(api_keys).where(api_keys.c.uid == uid)).one_or_none()
    return _entity(row) if row else None


def all_keys(conn: Connection) -> list[ApiKey]:
    return [_entity(r) for r in conn.execute(
        select(api_keys).order_by(api_keys.c.revoked_at.is_not(None), api_keys.c.id.desc()))]


def revoke(conn: Connection, key_id: int, now: datetime) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id,
                                        api_keys.c.revoked_at.is_(None))
                 .values(revoked_at=now))


def touch(conn: Connection, key_id: int, now: datetime) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))
