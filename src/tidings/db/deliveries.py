"""The delivery ledger: one row per (campaign, subscriber), claimed before sending.

Every statement here touches one campaign's rows through the primary key
``(campaign_id, subscriber_id)`` or ``ix_deliveries_campaign_status``, and works in
batches: a claim inserts up to a batch of rows in one statement, a flush updates
a batch of outcomes in one ``executemany``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB

from tidings.db import audience, idsets
from tidings.db.idsets import among
from tidings.db.tables import campaigns, deliveries, subscribers, subscriptions
from tidings.domain.deliveries import DeliveryStatus

CLAIMED = str(DeliveryStatus.CLAIMED)
RETRY = str(DeliveryStatus.RETRY)
SKIPPED = str(DeliveryStatus.SKIPPED)


@dataclass(frozen=True, slots=True)
class Reader:
    """A recipient as the engine needs it to render and address a message."""

    id: int
    uid: str
    email: str
    name: str
    attributes: dict[str, Any]
    list_ids: tuple[int, ...] = ()  # the campaign's lists the reader is confirmed on
    attempts: int = 0               # attempts made before this one


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one claimed row; ``status`` is sent, failed or retry."""

    subscriber_id: int
    status: DeliveryStatus
    code: int | None
    response: str | None
    attempted: bool = True
    next_attempt_at: datetime | None = None


def _confirmed_on(list_ids: Sequence[int]) -> ColumnElement[bool]:
    """Confirmed on one of ``list_ids``; with none (a segment-only campaign), on any list."""
    member = subscriptions.alias("member")
    confirmed = exists().where(
        member.c.subscriber_id == subscribers.c.id,
        member.c.status == "confirmed",
    )
    if list_ids:
        confirmed = confirmed.where(member.c.list_id.in_(list(list_ids)))
    return confirmed.correlate(subscribers)


def _eligible(list_ids: Sequence[int]) -> ColumnElement[bool]:
    return and_(subscribers.c.status == "enabled", _confirmed_on(list_ids))


def _in_segment(conn: Connection, campaign_id: int) -> ColumnElement[bool]:
    """The campaign's segment as a condition (true without one), anchored at its start."""
    row = conn.execute(select(campaigns.c.segment_id, campaigns.c.started_at)
                       .where(campaigns.c.id == campaign_id)).one_or_none()
    if row is None or row.segment_id is None:
        return true()
    condition = audience.segment_condition(conn, row.segment_id, row.started_at)
    return true() if condition is None else condition


_READER_COLUMNS = (subscribers.c.id, subscribers.c.uid, subscribers.c.email,
                   subscribers.c.name, subscribers.c.attributes)


def _readers(conn: Connection, rows: Sequence[Any], list_ids: Sequence[int],
             attempts: dict[int, int] | None = None) -> list[Reader]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    on: dict[int, list[int]] = {}
    for sid, lid in conn.execute(
            select(subscriptions.c.subscriber_id, subscriptions.c.list_id)
            .where(among(conn.dialect.name, subscriptions.c.subscriber_id, ids),
                   subscriptions.c.list_id.in_(list(list_ids)),
                   subscriptions.c.status == "confirmed")):
        on.setdefault(sid, []).append(lid)
    order = {lid: i for i, lid in enumerate(list_ids)}
    return [Reader(r.id, r.uid, r.email, r.name, dict(r.attributes or {}),
                   tuple(sorted(on.get(r.id, ()), key=order.__getitem__)),
                   (attempts or {}).get(r.id, 0)) for r in rows]


def claim_new(conn: Connection, campaign_id: int, list_ids: Sequence[int], *, after_id: int,
              max_id: int, limit: int, now: datetime) -> tuple[list[Reader], int | None]:
    """Claim the next ``limit`` eligible readers after ``after_id``.

    Returns the readers claimed (those not in the ledger yet) and the highest id
    looked at, or None when the audience is exhausted.
    """
    rows = conn.execute(
        select(*_READER_COLUMNS)
        .where(subscribers.c.id > after_id, subscribers.c.id <= max_id, _eligible(list_ids),
               _in_segment(conn, campaign_id))
        .order_by(subscribers.c.id).limit(limit)).all()
    if not rows:
        return [], None
    claimed = _ledger(conn, campaign_id, [r.id for r in rows], CLAIMED, now)
    return _readers(conn, [r for r in rows if r.id in claimed], list_ids), rows[-1].id


def _ledger(conn: Connection, campaign_id: int, ids: Sequence[int], status: str,
            now: datetime) -> set[int]:
    """Add ledger rows for ``ids`` not in it yet; return the ids added."""
    found = idsets.rows(conn.dialect.name, ids)
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(deliveries).from_select(
        ["campaign_id", "subscriber_id", "status", "attempts", "updated_at"],
        select(literal(campaign_id), found.c.value, literal(status), literal(0),
               literal(now, deliveries.c.updated_at.type))
        .where(true()))  # SQLite: a WHERE tells the upsert's ON from a join's
    stmt = stmt.on_conflict_do_nothing(index_elements=["campaign_id", "subscriber_id"])
    return set(conn.execute(stmt.returning(deliveries.c.subscriber_id)).scalars())


def skip_opted_out(conn: Connection, campaign_id: int, list_ids: Sequence[int], *,
                   after_id: int, upto_id: int, since: datetime, now: datetime) -> int:
    """Ledger as skipped the readers in (after_id, upto_id] who left after ``since``.

    They unsubscribed from a campaign list, or were blocklisted, after the audience
    froze, and are not confirmed on another list of the campaign.
    """
    left = or_(
        and_(subscriptions.c.status == "unsubscribed", subscriptions.c.unsubscribed_at >= since),
        and_(subscriptions.c.status == "confirmed", subscribers.c.status != "enabled",
             subscribers.c.updated_at >= since),
    )
    ids = list(conn.execute(
        select(subscriptions.c.subscriber_id).distinct()
        .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
        .where(subscriptions.c.list_id.in_(list(list_ids)),
               subscriptions.c.subscriber_id > after_id,
               subscriptions.c.subscriber_id <= upto_id, left,
               ~_eligible(list_ids))).scalars())
    if not ids:
        return 0
    return len(_ledger(conn, campaign_id, ids, SKIPPED, now))


def claim_retries(conn: Connection, campaign_id: int, list_ids: Sequence[int], *,
                  now: datetime, limit: int) -> tuple[list[Reader], int]:
    """Claim retries that are due; those no longer eligible become skipped.

    Returns the readers claimed and how many were skipped.
    """
    attempts = dict(conn.execute(
        select(deliveries.c.subscriber_id, deliveries.c.attempts)
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == RETRY,
               deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at).limit(limit)).all())
    due = list(attempts)
    if not due:
        return [], 0
    dialect = conn.dialect.name
    rows = conn.execute(select(*_READER_COLUMNS)
                        .where(among(dialect, subscribers.c.id, due), _eligible(list_ids),
                               _in_segment(conn, campaign_id))
                        .order_by(subscribers.c.id)).all()
    eligible = {r.id for r in rows}
    gone = [sid for sid in due if sid not in eligible]
    key = and_(deliveries.c.campaign_id == campaign_id, deliveries.c.status == RETRY)
    if eligible:
        conn.execute(update(deliveries)
                     .where(key, among(dialect, deliveries.c.subscriber_id, eligible))
                     .values(status=CLAIMED, updated_at=now))
    if gone:
        conn.execute(update(deliveries)
                     .where(key, among(dialect, deliveries.c.subscriber_id, gone))
                     .values(status=SKIPPED, updated_at=now, next_attempt_at=None))
    return _readers(conn, rows, list_ids, attempts), len(gone)


def recover(conn: Connection, campaign_id: int, now: datetime) -> int:
    """Claimed rows left by a worker that is gone: retry them now (they may repeat)."""
    result = conn.execute(
        update(deliveries)
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == CLAIMED)
        .values(status=RETRY, next_attempt_at=now, updated_at=now))
    return int(result.rowcount or 0)


def cursor(conn: Connection, campaign_id: int) -> int:
    """The highest subscriber id in the campaign's ledger (0 when empty)."""
    return int(conn.execute(
        select(func.coalesce(func.max(deliveries.c.subscriber_id), 0))
        .where(deliveries.c.campaign_id == campaign_id)).scalar_one())


def counts(conn: Connection, campaign_id: int) -> dict[DeliveryStatus, int]:
    rows = conn.execute(
        select(deliveries.c.status, func.count())
        .where(deliveries.c.campaign_id == campaign_id).group_by(deliveries.c.status))
    found = dict.fromkeys(DeliveryStatus, 0)
    for status, number in rows:
        found[DeliveryStatus(status)] = int(number)
    return found


def next_retry_at(conn: Connection, campaign_id: int) -> datetime | None:
    """When the earliest pending retry is due (None: no retry pending)."""
    value: datetime | None = conn.execute(
        select(func.min(deliveries.c.next_attempt_at))
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == RETRY)
    ).scalar_one()
    return value


def open_rows(conn: Connection, campaign_id: int) -> int:
    """Rows still claimed or waiting for a retry."""
    return int(conn.execute(
        select(func.count()).select_from(deliveries)
        .where(deliveries.c.campaign_id == campaign_id,
               deliveries.c.status.in_([CLAIMED, RETRY]))).scalar_one())


_RECORD = (
    update(deliveries)
    .where(deliveries.c.campaign_id == bindparam("b_campaign"),
           deliveries.c.subscriber_id == bindparam("b_subscriber"),
           deliveries.c.status == CLAIMED)
    .values(status=bindparam("b_status"), attempts=deliveries.c.attempts + bindparam("b_inc"),
            smtp_code=bindparam("b_code"), smtp_response=bindparam("b_response"),
            next_attempt_at=bindparam("b_next"), sent_at=bindparam("b_sent_at"),
            updated_at=bindparam("b_now"))
)


def record(conn: Connection, campaign_id: int, outcomes: Sequence[Outcome],
           now: datetime) -> None:
    """Write a batch of outcomes (rows must still be claimed).

    Accepted messages, nearly all of them, are one ``UPDATE`` per reply code with
    their ids bound as one value (their answer text is not kept); the others one
    ``executemany``.
    """
    accepted: dict[int | None, list[int]] = {}
    others = []
    for o in outcomes:
        if o.status is DeliveryStatus.SENT:
            accepted.setdefault(o.code, []).append(o.subscriber_id)
        else:
            others.append(o)
    for code, ids in accepted.items():
        conn.execute(
            update(deliveries)
            .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == CLAIMED,
                   among(conn.dialect.name, deliveries.c.subscriber_id, ids))
            .values(status=str(DeliveryStatus.SENT), attempts=deliveries.c.attempts + 1,
                    smtp_code=code, smtp_response=None, next_attempt_at=None,
                    sent_at=now, updated_at=now))
    if not others:
        return
    conn.execute(_RECORD, [
        {"b_campaign": campaign_id, "b_subscriber": o.subscriber_id, "b_status": str(o.status),
         "b_inc": 1 if o.attempted else 0, "b_code": o.code,
         "b_response": o.response[:512] if o.response else None, "b_next": o.next_attempt_at,
         "b_sent_at": None, "b_now": now}
        for o in others])


def progress(conn: Connection, campaign_id: int, *, sent: int, failed: int,
             delivery: dict[str, Any], now: datetime) -> None:
    """Add to the campaign's counters and replace ``extra["delivery"]`` atomically."""
    if conn.dialect.name == "postgresql":
        extra: Any = campaigns.c.extra.op("||")(
            bindparam("b_patch", {"delivery": delivery}, type_=JSONB))
    else:
        extra = func.json_set(campaigns.c.extra, "$.delivery", func.json(json.dumps(delivery)))
    conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(
        sent=campaigns.c.sent + sent, failed=campaigns.c.failed + failed, extra=extra,
        progress_at=now, updated_at=now))
