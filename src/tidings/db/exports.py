"""Keyset-paginated reads of subscribers for CSV export."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, exists, func, select

from tidings.db.tables import lists, subscribers, subscriptions


def highest_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(subscribers.c.id), 0))).scalar_one())


def page(conn: Connection, *, after_id: int, max_id: int, limit: int,
         list_id: int | None = None, subscription_status: str | None = None,
         subscriber_status: str | None = None) -> list[Row[Any]]:
    """Up to ``limit`` subscribers with ids in ``(after_id, max_id]``, by id."""
    query = (select(subscribers.c.id, subscribers.c.email, subscribers.c.name,
                    subscribers.c.attributes, subscribers.c.status)
             .where(subscribers.c.id > after_id, subscribers.c.id <= max_id)
             .order_by(subscribers.c.id).limit(limit))
    if subscriber_status is not None:
        query = query.where(subscribers.c.status == subscriber_status)
    if list_id is not None:
        member = exists().where(subscriptions.c.subscriber_id == subscribers.c.id,
                                subscriptions.c.list_id == list_id)
        if subscription_status is not None:
            member = member.where(subscriptions.c.status == subscription_status)
        query = query.where(member)
    return list(conn.execute(query))


def subscriptions_of(conn: Connection, subscriber_ids: Sequence[int],
                     list_id: int | None = None) -> dict[int, dict[str, str]]:
    """``{subscriber id: {list slug: status}}`` for the given subscribers."""
    if not subscriber_ids:
        return {}
    query = (select(subscriptions.c.subscriber_id, lists.c.slug, subscriptions.c.status)
             .join(lists, lists.c.id == subscriptions.c.list_id)
             .where(subscriptions.c.subscriber_id.in_(list(subscriber_ids)))
             .order_by(subscriptions.c.subscriber_id, lists.c.slug))
    if list_id is not None:
        query = query.where(subscriptions.c.list_id == list_id)
    found: dict[int, dict[str, str]] = {}
    for subscriber_id, slug, status in conn.execute(query):
        found.setdefault(subscriber_id, {})[slug] = status
    return found
