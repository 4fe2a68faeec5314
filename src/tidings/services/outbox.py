"""The transactional path: queue a message now, the worker sends it promptly with retries.

A web request never talks to SMTP: it queues a row in the same transaction as the change
that caused it (a signup queues its confirmation), so the message exists exactly when the
change does. The worker (``delivery``) builds each message with :mod:`tidings.mail` and
sends it through the same transports as campaigns.

Kinds and their payloads:

``confirmation``  {"consent_id": int, "list_ids": [int, ...]}
``welcome``       {"list_id": int}
``test``          {"campaign_id": int}
``password_reset`` {"user_id": int}

A message is ``pending`` until sent; the worker claims due ones (:func:`take_due`),
sends them and records the result (:func:`settle`): ``sent``, ``pending`` again with
a later ``next_attempt_at`` after a temporary failure, or ``failed`` with the error.
A permanent refusal of a message to a subscriber also counts as a bounce of theirs
(:func:`tidings.services.bounces.smtp_refusals`), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tidings.db import outbox as db_outbox
from tidings.db.database import Database
from tidings.db.outbox import QueuedMessage
from tidings.domain.timezones import utcnow

KINDS = frozenset({"confirmation", "welcome", "test", "password_reset"})


def enqueue(conn: Connection, *, kind: str, to_email: str, subscriber_id: int | None = None,
            payload: dict[str, Any] | None = None, now: datetime | None = None) -> int:
    """Queue one message inside the caller's transaction; return its id."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    return db_outbox.insert_message(conn, kind=kind, to_email=to_email,
                                    subscriber_id=subscriber_id, payload=payload or {},
                                    now=now or utcnow())


def enqueue_many(conn: Connection, messages: list[dict[str, Any]],
                 now: datetime | None = None) -> None:
    """Queue several messages (dicts of :func:`enqueue`'s keyword arguments but ``now``)
    inside the caller's transaction, in one statement."""
    for message in messages:
        if message["kind"] not in KINDS:
            raise ValueError(f"unknown outbox kind {message['kind']!r}")
    db_outbox.insert_messages(conn, [{"subscriber_id": None, "payload": {}, **m}
                                     for m in messages], now or utcnow())


def sent_recently(conn: Connection, *, to_email: str, kind: str, hours: int = 24) -> int:
    """How many ``kind`` messages were queued for ``to_email`` in the last ``hours``."""
    now = utcnow()
    return db_outbox.count_recent(conn, to_email=to_email, kind=kind,
                                  since=db_outbox.window_start(now, hours))


def take_due(db: Database, *, limit: int = 50, lease: float = 300.0) -> list[QueuedMessage]:
    """For the worker: claim due messages (due again after ``lease`` seconds if it dies)."""
    with db.write() as conn:
        return db_outbox.claim_due(conn, utcnow(), limit=limit, lease=lease)


@dataclass(frozen=True, slots=True)
class Settled:
    """What became of one queued message: sent, retry at ``retry_at``, or failed."""

    message_id: int
    sent: bool = False
    error: str | None = None
    retry_at: datetime | None = None
    attempted: bool = True


def settle(db: Database, results: list[Settled],
           also: Callable[[Connection, datetime], None] | None = None) -> None:
    """Record a pass of the worker in one transaction, with what ``also`` writes (called
    with the connection and the time: what refusals mean for the addresses)."""
    now = utcnow()
    with db.write() as conn:
        db_outbox.mark_sent(conn, [r.message_id for r in results if r.sent], now)
        for r in results:
            if r.sent:
                continue
            if r.retry_at is not None:
                db_outbox.mark_retry(conn, r.message_id, r.error, r.retry_at,
                                     attempted=r.attempted)
            else:
                db_outbox.mark_failed(conn, r.message_id, r.error or "failed")
        if also is not None:
            also(conn, now)
