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


def all_users(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(users).order_by(users.c.email))]


def get_by_uid(conn: Connection, uid: str) -> dict[str, Any] | None:
    row = conn.execute(select(users).where(users.c.uid == uid)).one_or_none()
    return dict(row._mapping) if row else None


def count_active_admins(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users).where(
        users.c.role == "admin", users.c.is_active.is_(True))).scalar_one())


def bump_session_version(conn: Connection, user_id: int, now: datetime,
                         **values: Any) -> None:
    """Change ``values`` and invalidate every session of the user at once."""
    conn.execute(update(users).where(users.c.id == user_id).values(
        **values, session_version=users.c.session_version + 1, updated_at=now))


def use_totp_step(conn: Connection, user_id: int, step: int) -> bool:
    """Record ``step`` as used; False when it (or a later one) was used already."""
    result = conn.execute(update(users).where(
        users.c.id == user_id,
        (users.c.totp_last_step.is_(None)) | (users.c.totp_last_step < step),
    ).values(totp_last_step=step))
    return result.rowcount == 1
