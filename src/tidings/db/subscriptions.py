"""Queries on subscriptions (subscriber × list)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, func, insert, select, update

from tidings.db.tables import subscriptions
from tidings.domain.subscriptions import Subscription, SubscriptionStatus


def _entity(row: Row[Any]) -> Subscription:
    return Subscription(
        subscriber_id=row.subscriber_id, list_id=row.list_id,
        status=SubscriptionStatus(row.status), created_at=row.created_at,
        updated_at=row.updated_at, confirmed_at=row.confirmed_at,
        unsubscribed_at=row.unsubscribed_at,
    )


def for_subscriber(conn: Connection, subscriber_id: int) -> dict[int, Subscription]:
    """The subscriber's subscriptions keyed by list id."""
    rows = conn.execute(
        select(subscriptions).where(subscriptions.c.subscriber_id == subscriber_id))
    return {r.list_id: _entity(r) for r in rows}


def put(conn: Connection, subscriber_id: int, list_id: int, status: SubscriptionStatus,
        now: datetime, *, existing: Subscription | None,
        consent_id: int | None = None) -> Subscription:
    """Insert or move a subscription to ``status``, stamping the matching timestamp."""
    values: dict[str, Any] = {"status": str(status), "updated_at": now}
    if status is SubscriptionStatus.CONFIRMED:
        values["confirmed_at"] = now
        values["unsubscribed_at"] = None
    elif status is SubscriptionStatus.UNSUBSCRIBED:
        values["unsubscribed_at"] = now
    else:
        values["confirmed_at"] = None
        values["unsubscribed_at"] = None
    if consent_id is not None:
        values["consent_id"] = consent_id
    if existing is None:
        row = conn.execute(insert(subscriptions).values(
            subscriber_id=subscriber_id, list_id=list_id, created_at=now, **values,
        ).returning(*subscriptions.c)).one()
    else:
        if existing.status is status:
            values.pop("confirmed_at", None)
            values.pop("unsubscribed_at", None)
        row = conn.execute(update(subscriptions).where(
            subscriptions.c.subscriber_id == subscriber_id,
            subscriptions.c.list_id == list_id,
        ).values(**values).returning(*subscriptions.c)).one()
    return _entity(row)


def insert_many(conn: Connection, rows: Sequence[tuple[int, int, SubscriptionStatus, int | None]],
                now: datetime) -> None:
    """New subscriptions ``(subscriber_id, list_id, status, consent_id)``, in one statement."""
    if not rows:
        return
    conn.execute(_INSERT, [{
        "subscriber_id": subscriber_id, "list_id": list_id, "status": str(status),
        "consent_id": consent_id, "created_at": now, "updated_at": now,
        "confirmed_at": now if status is SubscriptionStatus.CONFIRMED else None,
        "unsubscribed_at": None,
    } for subscriber_id, list_id, status, consent_id in rows])


_INSERT = insert(subscriptions)  # built once: every signup runs it


def confirm_pending(conn: Connection, subscriber_id: int, list_ids: Sequence[int],
                    now: datetime) -> list[int]:
    """Confirm those of ``list_ids`` still unconfirmed; return them.

    One conditional UPDATE, so two concurrent confirmations cannot both succeed.
    """
    if not list_ids:
        return []
    return sorted(conn.execute(
        update(subscriptions).where(
            subscriptions.c.subscriber_id == subscriber_id,
            subscriptions.c.list_id.in_(list(list_ids)),
            subscriptions.c.status == str(SubscriptionStatus.UNCONFIRMED))
        .values(status=str(SubscriptionStatus.CONFIRMED), confirmed_at=now, updated_at=now)
        .returning(subscriptions.c.list_id)).scalars())


def end(conn: Connection, subscriber_id: int, list_ids: Sequence[int] | None,
        now: datetime) -> list[int]:
    """Unsubscribe from ``list_ids`` (None: every list); return the lists that changed."""
    query = update(subscriptions).where(
        subscriptions.c.subscriber_id == subscriber_id,
        subscriptions.c.status != str(SubscriptionStatus.UNSUBSCRIBED))
    if list_ids is not None:
        if not list_ids:
            return []
        query = query.where(subscriptions.c.list_id.in_(list(list_ids)))
    return sorted(conn.execute(
        query.values(status=str(SubscriptionStatus.UNSUBSCRIBED), unsubscribed_at=now,
                     updated_at=now).returning(subscriptions.c.list_id)).scalars())


def _stale(before: datetime) -> ColumnElement[bool]:
    return (subscriptions.c.status == str(SubscriptionStatus.UNCONFIRMED)) \
        & (subscriptions.c.updated_at < before)


def unconfirmed_since(conn: Connection, before: datetime, *, after: int,
                      limit: int) -> list[int]:
    """Subscribers with a subscription left unconfirmed since before ``before``.

    Their ids above ``after``, ascending, at most ``limit`` (keyset pagination).
    """
    return list(conn.execute(
        select(subscriptions.c.subscriber_id)
        .where(_stale(before), subscriptions.c.subscriber_id > after)
        .group_by(subscriptions.c.subscriber_id)
        .order_by(subscriptions.c.subscriber_id).limit(limit)).scalars())


def count_unconfirmed_since(conn: Connection, subscriber_ids: Sequence[int],
                            before: datetime) -> int:
    """How many of these subscribers' subscriptions are unconfirmed since before ``before``."""
    return int(conn.execute(
        select(func.count()).select_from(subscriptions)
        .where(_stale(before), subscriptions.c.subscriber_id.in_(list(subscriber_ids))))
        .scalar_one())


def delete_unconfirmed_since(conn: Connection, subscriber_ids: Sequence[int],
                             before: datetime) -> int:
    """Delete these subscribers' subscriptions unconfirmed since before ``before``."""
    return int(conn.execute(
        delete(subscriptions)
        .where(_stale(before), subscriptions.c.subscriber_id.in_(list(subscriber_ids))))
        .rowcount)
