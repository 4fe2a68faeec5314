"""Queries on the transactional outbox (confirmation, welcome, test and reset messages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from tidings.db.tables import outbox


def insert_message(conn: Connection, *, kind: str, to_email: str, subscriber_id: int | None,
                   payload: dict[str, Any], now: datetime) -> int:
    return int(conn.execute(_INSERT, {
        "kind": kind, "to_email": to_email, "subscriber_id": subscriber_id, "payload": payload,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
    }).scalar_one())


def insert_messages(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Queue several messages (``kind``, ``to_email``, ``subscriber_id``, ``payload``) in
    one statement."""
    if rows:
        conn.execute(_INSERT_MANY, [{**row, "status": "pending", "attempts": 0,
                                     "next_attempt_at": now, "created_at": now}
                                    for row in rows])


# Built once: every signup queues a message.
_INSERT = insert(outbox).returning(outbox.c.id)
_INSERT_MANY = insert(outbox)


def count_recent(conn: Connection, *, to_email: str, kind: str, since: datetime) -> int:
    """Messages of ``kind`` queued for ``to_email`` since ``since`` (any status)."""
    return int(conn.execute(
        select(func.count()).select_from(outbox).where(
            func.lower(outbox.c.to_email) == to_email.lower(), outbox.c.kind == kind,
            outbox.c.created_at >= since)
    ).scalar_one())


def window_start(now: datetime, hours: int = 24) -> datetime:
    return now - timedelta(hours=hours)


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    id: int
    kind: str
    to_email: str
    subscriber_id: int | None
    payload: dict[str, Any]
    attempts: int  # including the attempt this claim is for


def claim_due(conn: Connection, now: datetime, *, limit: int, lease: float) -> list[QueuedMessage]:
    """Take up to ``limit`` due messages, pushing their next attempt ``lease`` seconds on.

    Should the worker die while sending, the message becomes due again then.
    """
    rows = conn.execute(
        select(outbox.c.id, outbox.c.kind, outbox.c.to_email, outbox.c.subscriber_id,
               outbox.c.payload, outbox.c.attempts)
        .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
        .order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)).all()
    if not rows:
        return []
    conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in rows]))
                 .values(attempts=outbox.c.attempts + 1,
                         next_attempt_at=now + timedelta(seconds=lease)))
    return [QueuedMessage(r.id, r.kind, r.to_email, r.subscriber_id, dict(r.payload or {}),
                          r.attempts + 1) for r in rows]


def mark_sent(conn: Connection, ids: list[int], now: datetime) -> None:
    if ids:
        conn.execute(update(outbox).where(outbox.c.id.in_(ids))
                     .values(status="sent", sent_at=now, last_error=None))


def mark_failed(conn: Connection, message_id: int, error: str) -> None:
    conn.execute(update(outbox).where(outbox.c.id == message_id)
                 .values(status="failed", last_error=error[:512]))


def mark_retry(conn: Connection, message_id: int, error: str | None, when: datetime,
               *, attempted: bool = True) -> None:
    values: dict[str, Any] = {"next_attempt_at": when, "last_error": error[:512] if error
                              else None}
    if not attempted:
        values["attempts"] = outbox.c.attempts - 1
    conn.execute(update(outbox).where(outbox.c.id == message_id).values(**values))


def get_message(conn: Connection, message_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(outbox).where(outbox.c.id == message_id)).one_or_none()
    return dict(row._mapping) if row else None
