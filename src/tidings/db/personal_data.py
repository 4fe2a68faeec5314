"""Queries behind the readers' data rights: everything stored about one subscriber.

Export reads it all; erasure deletes it all. Each table is named explicitly instead of
trusting ``ON DELETE CASCADE`` alone, so that erasure stays complete even for rows a
cascade does not reach (transactional messages queued to the bare address, audit events).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select

from tidings.db.tables import (
    bounces,
    campaigns,
    consents,
    deliveries,
    events,
    outbox,
    subscribers,
    subscriptions,
)


def deliveries_of(conn: Connection, subscriber_id: int) -> list[dict[str, Any]]:
    """Campaign deliveries to the subscriber, oldest first, with the campaign's subject."""
    rows = conn.execute(
        select(campaigns.c.uid.label("campaign"), campaigns.c.subject, deliveries.c.status,
               deliveries.c.attempts, deliveries.c.sent_at, deliveries.c.updated_at)
        .join(campaigns, campaigns.c.id == deliveries.c.campaign_id)
        .where(deliveries.c.subscriber_id == subscriber_id)
        .order_by(deliveries.c.updated_at, deliveries.c.campaign_id))
    return [dict(r._mapping) for r in rows]


def bounces_of(conn: Connection, subscriber_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(bounces.c.kind, bounces.c.source, bounces.c.status_code, bounces.c.diagnostic,
               bounces.c.created_at, campaigns.c.uid.label("campaign"))
        .join(campaigns, campaigns.c.id == bounces.c.campaign_id, isouter=True)
        .where(bounces.c.subscriber_id == subscriber_id)
        .order_by(bounces.c.created_at, bounces.c.id))
    return [dict(r._mapping) for r in rows]


def _messages_filter(people: Mapping[int, str]) -> Any:
    return or_(outbox.c.subscriber_id.in_(list(people)),
               func.lower(outbox.c.to_email).in_([e.lower() for e in people.values()]))


def messages_to(conn: Connection, subscriber_id: int, email: str) -> list[dict[str, Any]]:
    """Transactional messages (confirmations, welcomes) queued for the subscriber."""
    rows = conn.execute(
        select(outbox.c.kind, outbox.c.status, outbox.c.created_at, outbox.c.sent_at)
        .where(_messages_filter({subscriber_id: email}))
        .order_by(outbox.c.created_at, outbox.c.id))
    return [dict(r._mapping) for r in rows]


def erase(conn: Connection, people: Mapping[int, str]) -> None:
    """Delete the subscribers ``{id: address}`` and every row about them."""
    if not people:
        return
    ids = list(people)
    conn.execute(delete(outbox).where(_messages_filter(people)))
    conn.execute(delete(events).where(events.c.subject_type == "subscriber",
                                      events.c.subject_id.in_(ids)))
    for table in (subscriptions, consents, deliveries, bounces):
        conn.execute(delete(table).where(table.c.subscriber_id.in_(ids)))
    conn.execute(delete(subscribers).where(subscribers.c.id.in_(ids)))
