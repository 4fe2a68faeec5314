"""Queries on bounces and complaints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from tidings.db.tables import bounces


def insert_bounce(conn: Connection, *, subscriber_id: int | None, campaign_id: int | None,
                  kind: str, source: str, status_code: str | None, diagnostic: str | None,
                  now: datetime) -> int:
    return int(conn.execute(insert(bounces).values(
        subscriber_id=subscriber_id, campaign_id=campaign_id, kind=kind, source=source,
        status_code=status_code, diagnostic=diagnostic, created_at=now,
    ).returning(bounces.c.id)).scalar_one())


def count_since(conn: Connection, *, subscriber_id: int, kind: str, since: datetime) -> int:
    return int(conn.execute(select(func.count()).select_from(bounces).where(
        bounces.c.subscriber_id == subscriber_id, bounces.c.kind == kind,
        bounces.c.created_at >= since)).scalar_one())


def count_for_campaign(conn: Connection, campaign_id: int, kind: str) -> int:
    return int(conn.execute(select(func.count()).select_from(bounces).where(
        bounces.c.campaign_id == campaign_id, bounces.c.kind == kind)).scalar_one())


def for_subscriber(conn: Connection, subscriber_id: int, *, limit: int = 200,
                   ) -> list[dict[str, Any]]:
    rows = conn.execute(select(bounces).where(bounces.c.subscriber_id == subscriber_id)
                        .order_by(bounces.c.created_at.desc(), bounces.c.id.desc())
                        .limit(limit))
    return [dict(r._mapping) for r in rows]
