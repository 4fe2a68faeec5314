"""Queries on import jobs (the ``imports`` table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from tidings.db.tables import imports


def insert_job(conn: Connection, *, uid: str, filename: str, options: dict[str, Any],
               total_bytes: int | None, created_by: str | None, now: datetime) -> Row[Any]:
    return conn.execute(insert(imports).values(
        uid=uid, status="queued", filename=filename, options=options, total_bytes=total_bytes,
        created_by=created_by, created_at=now).returning(*imports.c)).one()


def update_job(conn: Connection, uid: str, **values: Any) -> None:
    conn.execute(update(imports).where(imports.c.uid == uid).values(**values))


def get(conn: Connection, uid: str) -> Row[Any] | None:
    return conn.execute(select(imports).where(imports.c.uid == uid)).one_or_none()


def recent(conn: Connection, limit: int) -> list[Row[Any]]:
    return list(conn.execute(select(imports).order_by(imports.c.id.desc()).limit(limit)))
