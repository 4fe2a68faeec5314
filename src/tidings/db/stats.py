"""Aggregates for the dashboard: growth over time, totals, delivery progress."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Date, cast, func, select, text

from tidings.db.tables import campaigns, deliveries, subscribers


def subscriber_total(conn: Connection) -> tuple[int, bool]:
    """(count, exact). On PostgreSQL past 100,000 rows this is the planner's estimate."""
    if conn.dialect.name == "postgresql":
        estimate = conn.execute(text(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'subscribers'::regclass"
        )).scalar()
        if estimate is not None and estimate >= 100_000:
            return int(estimate), False
    return int(conn.execute(select(func.count()).select_from(subscribers)).scalar_one()), True


def _day(conn: Connection, column: ColumnElement[Any]) -> ColumnElement[Any]:
    if conn.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def growth(conn: Connection, since: datetime) -> list[tuple[date, int]]:
    """New subscribers per UTC day since ``since`` (days without any are left out)."""
    day = _day(conn, subscribers.c.created_at)
    rows = conn.execute(select(day, func.count()).where(subscribers.c.created_at >= since)
                        .group_by(day).order_by(day))
    return [(d if isinstance(d, date) else date.fromisoformat(str(d)), int(n)) for d, n in rows]


def created_before(conn: Connection, moment: datetime) -> int:
    return int(conn.execute(select(func.count()).select_from(subscribers)
                            .where(subscribers.c.created_at < moment)).scalar_one())


def sends_per_minute(conn: Connection, campaign_id: int) -> list[tuple[datetime, int]]:
    """Deliveries accepted per minute of a campaign, for its results chart."""
    minute: ColumnElement[Any]
    if conn.dialect.name == "postgresql":
        minute = func.date_trunc("minute", deliveries.c.sent_at)
    else:
        minute = func.strftime("%Y-%m-%d %H:%M:00", deliveries.c.sent_at)
    rows = conn.execute(select(minute, func.count())
                        .where(deliveries.c.campaign_id == campaign_id,
                               deliveries.c.sent_at.is_not(None))
                        .group_by(minute).order_by(minute))
    found = []
    for moment, n in rows:
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment + "+00:00")
        found.append((moment, int(n)))
    return found


def delivery_counts(conn: Connection, campaign_id: int) -> dict[str, int]:
    rows = conn.execute(select(deliveries.c.status, func.count())
                        .where(deliveries.c.campaign_id == campaign_id)
                        .group_by(deliveries.c.status))
    return {status: int(n) for status, n in rows}


def campaign_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(campaigns)).scalar_one())

