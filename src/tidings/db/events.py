"""The audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from tidings.db.tables import events


def record(conn: Connection, kind: str, now: datetime, *, actor: str | None = None,
           subject_type: str | None = None, subject_id: int | None = None,
           data: dict[str, Any] | None = None) -> None:
    conn.execute(insert(events).values(kind=kind, actor=actor, subject_type=subject_type,
                                       subject_id=subject_id, data=data or {},
                                       created_at=now))


def recent(conn: Connection, *, limit: int = 50, subject_type: str | None = None,
           subject_id: int | None = None, before_id: int | None = None,
           ) -> list[dict[str, Any]]:
    query = select(events).order_by(events.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(events.c.id < before_id)
    if subject_type is not None:
        query = query.where(events.c.subject_type == subject_type)
    if subject_id is not None:
        query = query.where(events.c.subject_id == subject_id)
    return [dict(r._mapping) for r in conn.execute(query)]
