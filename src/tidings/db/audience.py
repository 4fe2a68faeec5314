"""Who receives a campaign: confirmed members of its lists, enabled, up to a frozen id.

The audience is frozen when the campaign starts by recording the highest subscriber
id then (``campaigns.audience_max_id``); later signups are not added, and readers who
unsubscribe or are blocklisted later drop out at send time.

A campaign with a segment sends to the members of its lists who also match the
segment (the intersection). A campaign with a segment and no lists sends to the
enabled subscribers who match it and are confirmed on at least one list: nobody is
mailed without a confirmed subscription.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Select, exists, func, select

from tidings.db import segments as db_segments
from tidings.db.tables import subscribers, subscriptions
from tidings.domain.campaigns import Campaign
from tidings.domain.timezones import utcnow


def member_ids(list_ids: Sequence[int], max_id: int | None,
               segment: ColumnElement[bool] | None = None) -> Select[tuple[int]]:
    """Distinct ids of enabled subscribers confirmed on any of ``list_ids``.

    With no ``list_ids``, confirmed on any list. ``segment`` is a condition from
    :func:`segment_condition`; it narrows the same single query (walk it by keyset on
    ``subscribers.id``).
    """
    confirmed = exists().where(
        subscriptions.c.subscriber_id == subscribers.c.id,
        subscriptions.c.status == "confirmed",
    )
    if list_ids:
        confirmed = confirmed.where(subscriptions.c.list_id.in_(list(list_ids)))
    query = select(subscribers.c.id).where(subscribers.c.status == "enabled")
    if max_id is not None:
        query = query.where(subscribers.c.id <= max_id)
    if segment is not None:
        # Before the membership test: SQLite evaluates terms in order, and the segment's
        # column tests reject most rows without a subscriptions lookup.
        query = query.where(segment)
    return query.where(confirmed)


def segment_condition(conn: Connection, segment_id: int | None,
                      now: datetime | None = None) -> ColumnElement[bool] | None:
    """The compiled condition of a saved segment, or None without one.

    A segment deleted since the campaign was written matches nobody, so a campaign
    never silently widens to whole lists.
    """
    if segment_id is None:
        return None
    segment = db_segments.get(conn, segment_id)
    if segment is None:
        return db_segments.condition(conn, {"any": []}, now=utcnow())
    return db_segments.condition(conn, segment.filter, now=now or utcnow())


def campaign_member_ids(conn: Connection, campaign: Campaign,
                        max_id: int | None) -> Select[tuple[int]]:
    """:func:`member_ids` for ``campaign``: its lists and its segment."""
    return member_ids(campaign.list_ids, max_id, segment_condition(conn, campaign.segment_id))


def highest_subscriber_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(subscribers.c.id), 0))).scalar_one())


def count(conn: Connection, list_ids: Sequence[int], max_id: int | None,
          segment: ColumnElement[bool] | None = None) -> int:
    inner = member_ids(list_ids, max_id, segment).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


def campaign_count(conn: Connection, campaign: Campaign, max_id: int | None) -> int:
    """How many readers :func:`campaign_member_ids` yields."""
    inner = campaign_member_ids(conn, campaign, max_id).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())
