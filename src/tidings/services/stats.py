"""Counts for the dashboard and list pages, kept cheap at millions of subscribers.

Counting a million subscriptions takes PostgreSQL a few hundred milliseconds, far too
slow for every page view. On a large installation (more than :data:`LARGE`
subscribers, judged by the highest subscriber id, which is one index read) each figure
is computed once and then served from a per-process cache, refreshed in a background
thread when it is older than :data:`MAX_AGE` seconds (pages show the time it was
computed). Smaller installations compute every figure on every view, so they always
see exact, current numbers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

from tidings.db import audience
from tidings.db import lists as db_lists
from tidings.db import stats as db_stats
from tidings.db.database import Database
from tidings.domain.timezones import utcnow

T = TypeVar("T")
log = logging.getLogger("tidings.stats")

MAX_AGE = 60.0
LARGE = 100_000
GROWTH_DAYS = 90


@dataclass(frozen=True, slots=True)
class Figure(Generic[T]):
    value: T
    computed_at: datetime
    cached: bool


@dataclass
class _Entry:
    value: Any
    computed_at: datetime
    at: float
    refreshing: bool = False


_lock = threading.Lock()


def _cached(db: Database, key: str, compute: Callable[[], T]) -> Figure[T]:
    if not _large(db):
        return Figure(compute(), utcnow(), False)
    entry: _Entry | None = db.cache.get("stats:" + key)
    now = time.monotonic()
    if entry is not None:
        if now - entry.at > MAX_AGE:
            with _lock:
                start = not entry.refreshing
                entry.refreshing = True
            if start:
                threading.Thread(target=_refresh, args=(db, key, compute), daemon=True,
                                 name=f"tidings-stats-{key}").start()
        return Figure(entry.value, entry.computed_at, True)
    return Figure(_refresh(db, key, compute), utcnow(), False)


def _large(db: Database) -> bool:
    with db.read() as conn:
        return audience.highest_subscriber_id(conn) > LARGE


def _refresh(db: Database, key: str, compute: Callable[[], T]) -> T:
    try:
        value = compute()
    except Exception:
        log.exception("computing %s failed", key)
        entry = db.cache.get("stats:" + key)
        if entry is not None:
            entry.refreshing = False
        raise
    db.cache["stats:" + key] = _Entry(value, utcnow(), time.monotonic())
    return value


def list_members(db: Database) -> Figure[dict[int, dict[str, int]]]:
    """``{list_id: {status: count}}``."""
    def compute() -> dict[int, dict[str, int]]:
        with db.read() as conn:
            return db_lists.member_counts(conn)
    return _cached(db, "list_members", compute)


def subscriber_total(db: Database) -> Figure[tuple[int, bool]]:
    """(count, exact): an estimate on PostgreSQL past 100,000 subscribers."""
    def compute() -> tuple[int, bool]:
        with db.read() as conn:
            return db_stats.subscriber_total(conn)
    return _cached(db, "subscriber_total", compute)


def growth(db: Database, days: int = GROWTH_DAYS) -> Figure[list[tuple[date, int]]]:
    """Subscribers in total at the end of each of the last ``days`` UTC days."""
    def compute() -> list[tuple[date, int]]:
        today = utcnow().date()
        first = today - timedelta(days=days - 1)
        since = datetime(first.year, first.month, first.day, tzinfo=utcnow().tzinfo)
        with db.read() as conn:
            base = db_stats.created_before(conn, since)
            per_day = dict(db_stats.growth(conn, since))
        series, running = [], base
        for offset in range(days):
            day = first + timedelta(days=offset)
            running += per_day.get(day, 0)
            series.append((day, running))
        return series
    return _cached(db, f"growth:{days}", compute)


def forget(db: Database) -> None:
    """Mark cached figures stale after a change: the next view refreshes them in the
    background while the old figure is shown."""
    for key in [k for k in db.cache if k.startswith("stats:")]:
        db.cache[key].at = float("-inf")


def warm(db: Database) -> threading.Thread:
    """Compute the dashboard's figures in the background (at start), so that the first
    view of a large installation does not wait for them."""
    def work() -> None:
        try:
            list_members(db)
            subscriber_total(db)
            growth(db)
        except Exception:
            log.warning("could not compute the dashboard figures ahead", exc_info=True)

    thread = threading.Thread(target=work, name="tidings-stats-warm", daemon=True)
    thread.start()
    return thread
