"""Browsing subscribers a page at a time, fast at millions of rows.

Pages are keyset-paginated on the subscriber id, newest first: each page is an
index range read of ``limit`` rows, whatever its depth (never OFFSET). Searches are
prefixes of the lower-cased address or name, written as ranges so that the
``lower(email)`` and ``lower(name)`` indexes serve them on both databases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, func, or_, select

from tidings.db.subscribers import entity
from tidings.db.tables import bounces, campaigns, deliveries, subscribers, subscriptions
from tidings.domain.subscribers import Subscriber


def _prefix_range(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, as a range an index on ``column`` can serve."""
    if ord(prefix[-1]) < 0x10FFFF:
        return and_(column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1))
    return and_(column >= prefix, func.substr(column, 1, len(prefix)) == prefix)


def page(conn: Connection, *, query: str = "", list_id: int | None = None,
         list_status: str | None = None, status: str | None = None,
         before_id: int | None = None, limit: int = 50) -> list[Subscriber]:
    """Up to ``limit`` subscribers with ids below ``before_id``, newest first."""
    stmt = select(subscribers).order_by(subscribers.c.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(subscribers.c.id < before_id)
    if status is not None:
        stmt = stmt.where(subscribers.c.status == status)
    prefix = query.strip().lower()
    if prefix:
        conditions = [_prefix_range(func.lower(subscribers.c.email), prefix)]
        if "@" not in prefix:
            conditions.append(_prefix_range(func.lower(subscribers.c.name), prefix))
        stmt = stmt.where(or_(*conditions))
    if list_id is not None:
        member = [subscriptions.c.subscriber_id == subscribers.c.id,
                  subscriptions.c.list_id == list_id]
        if list_status is not None:
            member.append(subscriptions.c.status == list_status)
        stmt = stmt.where(exists().where(*member))
    return [entity(r) for r in conn.execute(stmt)]


def deliveries_of(conn: Connection, subscriber_id: int, *, limit: int = 50
                  ) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(deliveries, campaigns.c.uid.label("campaign_uid"),
               campaigns.c.name.label("campaign_name"))
        .join(campaigns, campaigns.c.id == deliveries.c.campaign_id)
        .where(deliveries.c.subscriber_id == subscriber_id)
        .order_by(deliveries.c.updated_at.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def bounces_of(conn: Connection, subscriber_id: int, *, limit: int = 50
               ) -> list[dict[str, Any]]:
    rows = conn.execute(select(bounces).where(bounces.c.subscriber_id == subscriber_id)
                        .order_by(bounces.c.created_at.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]



def memberships(conn: Connection, subscriber_ids: list[int]) -> dict[int, dict[int, str]]:
    """``{subscriber_id: {list_id: status}}`` for one page of subscribers."""
    found: dict[int, dict[int, str]] = {sid: {} for sid in subscriber_ids}
    if not subscriber_ids:
        return found
    rows = conn.execute(select(subscriptions.c.subscriber_id, subscriptions.c.list_id,
                               subscriptions.c.status)
                        .where(subscriptions.c.subscriber_id.in_(subscriber_ids)))
    for sid, lid, status in rows:
        found[sid][lid] = status
    return found
