"""Who receives a campaign: confirmed members of its lists, enabled, up to a frozen id.

The audience is frozen when the campaign starts by recording the highest subscriber
id then (``campaigns.audience_max_id``); later signups are not added, and readers who
unsubscribe or are blocklisted later drop out at send time.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Select, exists, func, select

from tidings.db.tables import subscribers, subscriptions


def member_ids(list_ids: Sequence[int], max_id: int | None) -> Select[tuple[int]]:
    """Distinct ids of enabled subscribers confirmed on any of ``list_ids``."""
    confirmed = exists().where(
        subscriptions.c.subscriber_id == subscribers.c.id,
        subscriptions.c.list_id.in_(list(list_ids)),
        subscriptions.c.status == "confirmed",
    )
    query = select(subscribers.c.id).where(subscribers.c.status == "enabled", confirmed)
    if max_id is not None:
        query = query.where(subscribers.c.id <= max_id)
    return query


def highest_subscriber_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(subscribers.c.id), 0))).scalar_one())


def count(conn: Connection, list_ids: Sequence[int], max_id: int | None) -> int:
    inner = member_ids(list_ids, max_id).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())
