"""Queries on the transactional outbox (confirmation, welcome, test and reset messages)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select

from tidings.db.tables import outbox


def insert_message(conn: Connection, *, kind: str, to_email: str, subscriber_id: int | None,
                   payload: dict[str, Any], now: datetime) -> int:
    return int(conn.execute(insert(outbox).values(
        kind=kind, to_email=to_email, subscriber_id=subscriber_id, payload=payload,
        status="pending", attempts=0, next_attempt_at=now, created_at=now,
    ).returning(outbox.c.id)).scalar_one())


def count_recent(conn: Connection, *, to_email: str, kind: str, since: datetime) -> int:
    """Messages of ``kind`` queued for ``to_email`` since ``since`` (any status)."""
    return int(conn.execute(
        select(func.count()).select_from(outbox).where(
            func.lower(outbox.c.to_email) == to_email.lower(), outbox.c.kind == kind,
            outbox.c.created_at >= since)
    ).scalar_one())


def window_start(now: datetime, hours: int = 24) -> datetime:
    return now - timedelta(hours=hours)
