"""Queries on subscribers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tidings.db.tables import consents, subscribers, subscriptions
from tidings.domain.subscribers import Subscriber, SubscriberStatus
from tidings.domain.subscriptions import SubscriptionStatus


def entity(row: Row[Any]) -> Subscriber:
    return Subscriber(
        id=row.id, uid=row.uid, email=row.email, name=row.name,
        status=SubscriberStatus(row.status), attributes=dict(row.attributes or {}),
        created_at=row.created_at, updated_at=row.updated_at,
    )


def insert_subscriber(conn: Connection, *, uid: str, email: str, name: str,
                      attributes: dict[str, Any], status: SubscriberStatus,
                      now: datetime) -> Subscriber:
    row = conn.execute(
        insert(subscribers).values(uid=uid, email=email, name=name, attributes=attributes,
                                   status=str(status), created_at=now, updated_at=now)
        .returning(*subscribers.c)
    ).one()
    return entity(row)


def update_subscriber(conn: Connection, subscriber_id: int, now: datetime,
                      **values: Any) -> Subscriber:
    values = {k: str(v) if isinstance(v, SubscriberStatus) else v for k, v in values.items()}
    row = conn.execute(
        update(subscribers).where(subscribers.c.id == subscriber_id)
        .values(**values, updated_at=now).returning(*subscribers.c)
    ).one()
    return entity(row)


def get(conn: Connection, subscriber_id: int) -> Subscriber | None:
    row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).one_or_none()
    return entity(row) if row else None


def get_by_uid(conn: Connection, uid: str) -> Subscriber | None:
    row = conn.execute(select(subscribers).where(subscribers.c.uid == uid)).one_or_none()
    return entity(row) if row else None


def get_by_email(conn: Connection, email: str) -> Subscriber | None:
    row = conn.execute(
        select(subscribers).where(func.lower(subscribers.c.email) == email.lower())
    ).one_or_none()
    return entity(row) if row else None


def delete_subscriber(conn: Connection, subscriber_id: int) -> None:
    conn.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))


def count(conn: Connection, *, list_id: int | None = None, status: str | None = None) -> int:
    """Subscribers, or members of ``list_id`` with subscription ``status``."""
    if list_id is None:
        query = select(func.count()).select_from(subscribers)
        if status is not None:
            query = query.where(subscribers.c.status == status)
    else:
        query = select(func.count()).select_from(subscriptions).where(
            subscriptions.c.list_id == list_id)
        if status is not None:
            query = query.where(subscriptions.c.status == status)
    return int(conn.execute(query).scalar_one())


def insert_if_new(conn: Connection, *, uid: str, email: str, name: str,
                  now: datetime) -> int | None:
    """Insert a subscriber unless the address exists (any case); return the new id or None.

    One statement for the common case of a new address, and no unique-violation race
    between two signups of the same address.
    """
    created = insert_many_if_new(conn, [(uid, email, name)], now)
    return created.get(email.lower())


def insert_many_if_new(conn: Connection, rows: Sequence[tuple[str, str, str]],
                       now: datetime) -> dict[str, int]:
    """Insert subscribers ``(uid, email, name)`` whose addresses do not exist yet, in one
    statement; return ``{lower-cased address: new id}`` for those inserted."""
    if not rows:
        return {}
    result = conn.execute(_INSERT_IF_NEW[conn.dialect.name], [{
        "uid": uid, "email": email, "name": name, "attributes": {},
        "status": str(SubscriberStatus.ENABLED), "created_at": now, "updated_at": now,
    } for uid, email, name in rows])
    return {email.lower(): int(sid) for sid, email in result}


# Built once per dialect (signups are a hot path): INSERT ... ON CONFLICT (lower(email))
# DO NOTHING RETURNING id, email.
_INSERT_IF_NEW = {
    module.__name__.rsplit(".", 1)[1]: module.insert(subscribers)
    .on_conflict_do_nothing(index_elements=[func.lower(subscribers.c.email)])
    .returning(subscribers.c.id, subscribers.c.email)
    for module in (postgresql, sqlite)
}


def lock_free(conn: Connection, subscriber_ids: Sequence[int]) -> list[int]:
    """Of ``subscriber_ids``, those no other transaction holds, row-locked until commit.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED``: a subscriber a signup or a confirmation is
    changing right now is left out, without waiting. SQLite's write transactions are
    serialised already, so all of them are returned (those that still exist).
    """
    query = select(subscribers.c.id).where(subscribers.c.id.in_(list(subscriber_ids))) \
        .order_by(subscribers.c.id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [int(sid) for sid in conn.execute(query).scalars()]


def get_for_update(conn: Connection, *, email: str | None = None,
                   subscriber_id: int | None = None) -> Subscriber | None:
    """A subscriber by address or id, row-locked until commit on PostgreSQL.

    SQLite needs no lock: its write transactions are serialised already.
    """
    query = select(subscribers)
    if email is not None:
        query = query.where(func.lower(subscribers.c.email) == email.lower())
    else:
        query = query.where(subscribers.c.id == subscriber_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    return entity(row) if row else None


def abandoned_signups(conn: Connection, subscriber_ids: Sequence[int],
                      before: datetime) -> dict[int, str]:
    """Of ``subscriber_ids``, the signups nobody ever confirmed: ``{id: address}``.

    That is enabled (not blocklisted) subscribers with no subscription but ones left
    unconfirmed since before ``before``, no consent record but signups, and not added
    by an import (whose shared record they name in ``import_consent_id``).
    """
    kept = exists().where(
        subscriptions.c.subscriber_id == subscribers.c.id,
        or_(subscriptions.c.status != str(SubscriptionStatus.UNCONFIRMED),
            subscriptions.c.updated_at >= before))
    acted = exists().where(consents.c.subscriber_id == subscribers.c.id,
                           consents.c.action != "signup")
    rows = conn.execute(
        select(subscribers.c.id, subscribers.c.email)
        .where(subscribers.c.id.in_(list(subscriber_ids)),
               subscribers.c.status != str(SubscriberStatus.BLOCKLISTED),
               subscribers.c.import_consent_id.is_(None), ~kept, ~acted))
    return {int(sid): email for sid, email in rows}
