"""Queries on admin users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from tidings.db.tables import users


def insert_user(conn: Connection, *, uid: str, email: str, name: str, password_hash: str,
                role: str, now: datetime) -> dict[str, Any]:
    row = conn.execute(insert(users).values(
        uid=uid, email=email, name=name, password_hash=password_hash, role=role,
        created_at=now, updated_at=now).returning(*users.c)).one()
    return dict(row._mapping)


def get(conn: Connection, user_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).one_or_none()
    return dict(row._mapping) if row else None


def get_by_email(conn: Connection, email: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(users).where(func.lower(users.c.email) == email.lower())).one_or_none()
    return dict(row._mapping) if row else None


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def update_user(conn: Connection, user_id: int, now: datetime, **values: Any) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(**values, updated_at=now))
