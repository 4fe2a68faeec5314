"""Queries on runtime settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from tidings.db.tables import settings
from tidings.db.upsert import upsert


def all_values(conn: Connection) -> dict[str, Any]:
    return {k: v for k, v in conn.execute(select(settings.c.key, settings.c.value))}


def put(conn: Connection, key: str, value: Any, now: datetime) -> None:
    conn.execute(upsert(conn, settings, {"key": key, "value": value, "updated_at": now},
                        index=["key"], update=["value", "updated_at"]))
