"""Queries on throttles: counts of recent failures per hashed key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from tidings.db.tables import throttles
from tidings.db.upsert import upsert


def get_many(conn: Connection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = conn.execute(select(throttles).where(throttles.c.key.in_(list(keys))))
    return {r.key: dict(r._mapping) for r in rows}


def lock(conn: Connection, key: str, now: datetime) -> dict[str, Any]:
    """The row of ``key`` (created empty if missing), locked until the transaction ends."""
    conn.execute(upsert(conn, throttles, {"key": key, "failures": 0,
                                          "window_started_at": now}, index=["key"]))
    query = select(throttles).where(throttles.c.key == key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return dict(conn.execute(query).one()._mapping)


def save(conn: Connection, key: str, *, failures: int, window_started_at: datetime,
         locked_until: datetime | None) -> None:
    conn.execute(update(throttles).where(throttles.c.key == key).values(
        failures=failures, window_started_at=window_started_at, locked_until=locked_until))


def clear(conn: Connection, key: str) -> None:
    conn.execute(delete(throttles).where(throttles.c.key == key))
