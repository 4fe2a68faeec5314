"""Queries on RSS feeds and the items they have shown."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from tidings.db.tables import feed_items, feeds
from tidings.domain.feeds import Feed, Frequency


def entity(row: Row[Any]) -> Feed:
    return Feed(
        id=row.id, uid=row.uid, name=row.name, url=row.url,
        frequency=Frequency(row.frequency), weekday=row.weekday, send_time=row.send_time,
        timezone=row.timezone, list_ids=tuple(int(i) for i in row.list_ids or ()),
        template_id=row.template_id, subject=row.subject, auto_send=bool(row.auto_send),
        enabled=bool(row.enabled), created_at=row.created_at, updated_at=row.updated_at,
        last_run_at=row.last_run_at, next_run_at=row.next_run_at, last_error=row.last_error,
    )


def insert_feed(conn: Connection, values: dict[str, Any], now: datetime) -> Feed:
    row = conn.execute(insert(feeds).values(**values, created_at=now, updated_at=now)
                       .returning(*feeds.c)).one()
    return entity(row)


def update_feed(conn: Connection, feed_id: int, now: datetime, **values: Any) -> Feed:
    values = {k: str(v) if isinstance(v, Frequency) else v for k, v in values.items()}
    row = conn.execute(update(feeds).where(feeds.c.id == feed_id)
                       .values(**values, updated_at=now).returning(*feeds.c)).one()
    return entity(row)


def get(conn: Connection, feed_id: int) -> Feed | None:
    row = conn.execute(select(feeds).where(feeds.c.id == feed_id)).one_or_none()
    return entity(row) if row else None


def get_by_uid(conn: Connection, uid: str) -> Feed | None:
    row = conn.execute(select(feeds).where(feeds.c.uid == uid)).one_or_none()
    return entity(row) if row else None


def all_feeds(conn: Connection) -> list[Feed]:
    return [entity(r) for r in conn.execute(select(feeds).order_by(feeds.c.name, feeds.c.id))]


def due(conn: Connection, now: datetime) -> list[str]:
    """Public ids of enabled feeds whose next run has come, earliest first."""
    return list(conn.execute(
        select(feeds.c.uid).where(feeds.c.enabled.is_(True), feeds.c.next_run_at <= now)
        .order_by(feeds.c.next_run_at)).scalars())


def delete_feed(conn: Connection, feed_id: int) -> None:
    conn.execute(delete(feeds).where(feeds.c.id == feed_id))


def seen(conn: Connection, feed_id: int, guids: Sequence[str]) -> set[str]:
    """Which of ``guids`` the feed has shown (or recorded) before."""
    found: set[str] = set()
    for start in range(0, len(guids), 500):
        found.update(conn.execute(
            select(feed_items.c.guid).where(feed_items.c.feed_id == feed_id,
                                            feed_items.c.guid.in_(guids[start:start + 500])))
            .scalars())
    return found


def remember(conn: Connection, feed_id: int, guids: Iterable[str], campaign_id: int | None,
             now: datetime) -> None:
    rows = [{"feed_id": feed_id, "guid": guid, "campaign_id": campaign_id,
             "first_seen_at": now} for guid in guids]
    if rows:
        conn.execute(insert(feed_items), rows)
