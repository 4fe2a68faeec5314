"""Queries on campaigns and their target lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from tidings.db.tables import campaign_lists, campaigns
from tidings.domain.campaigns import BodyFormat, Campaign, CampaignStatus


def entity(row: Row[Any], list_ids: Sequence[int]) -> Campaign:
    return Campaign(
        id=row.id, uid=row.uid, name=row.name, subject=row.subject, body=row.body,
        body_format=BodyFormat(row.body_format), status=CampaignStatus(row.status),
        created_at=row.created_at, updated_at=row.updated_at, list_ids=tuple(list_ids),
        from_name=row.from_name, from_email=row.from_email, reply_to=row.reply_to,
        template_id=row.template_id, segment_id=row.segment_id,
        scheduled_at=row.scheduled_at, timezone=row.timezone, started_at=row.started_at,
        finished_at=row.finished_at, audience_max_id=row.audience_max_id, total=row.total,
        sent=row.sent, failed=row.failed, archive=row.archive, archive_slug=row.archive_slug,
        extra=dict(row.extra or {}),
    )


def list_ids_of(conn: Connection, campaign_ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {cid: [] for cid in campaign_ids}
    if not campaign_ids:
        return found
    rows = conn.execute(
        select(campaign_lists.c.campaign_id, campaign_lists.c.list_id)
        .where(campaign_lists.c.campaign_id.in_(list(campaign_ids)))
        .order_by(campaign_lists.c.list_id))
    for campaign_id, list_id in rows:
        found[campaign_id].append(list_id)
    return found


def insert_campaign(conn: Connection, values: dict[str, Any], list_ids: Sequence[int],
                    now: datetime) -> Campaign:
    row = conn.execute(insert(campaigns).values(**values, created_at=now, updated_at=now)
                       .returning(*campaigns.c)).one()
    set_lists(conn, row.id, list_ids)
    return entity(row, list_ids)


def set_lists(conn: Connection, campaign_id: int, list_ids: Sequence[int]) -> None:
    conn.execute(delete(campaign_lists).where(campaign_lists.c.campaign_id == campaign_id))
    if list_ids:
        conn.execute(insert(campaign_lists),
                     [{"campaign_id": campaign_id, "list_id": lid} for lid in list_ids])


def update_campaign(conn: Connection, campaign_id: int, now: datetime,
                    **values: Any) -> Campaign:
    values = {k: str(v) if isinstance(v, CampaignStatus | BodyFormat) else v
              for k, v in values.items()}
    row = conn.execute(update(campaigns).where(campaigns.c.id == campaign_id)
                       .values(**values, updated_at=now).returning(*campaigns.c)).one()
    return entity(row, list_ids_of(conn, [campaign_id])[campaign_id])


def get(conn: Connection, campaign_id: int, *, for_update: bool = False) -> Campaign | None:
    query = select(campaigns).where(campaigns.c.id == campaign_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    return entity(row, list_ids_of(conn, [row.id])[row.id]) if row else None


def get_by_uid(conn: Connection, uid: str) -> Campaign | None:
    row = conn.execute(select(campaigns).where(campaigns.c.uid == uid)).one_or_none()
    return entity(row, list_ids_of(conn, [row.id])[row.id]) if row else None


def recent(conn: Connection, *, limit: int = 50, before_id: int | None = None,
           status: CampaignStatus | None = None) -> list[Campaign]:
    """Newest first, keyset-paginated by id."""
    query = select(campaigns).order_by(campaigns.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(campaigns.c.id < before_id)
    if status is not None:
        query = query.where(campaigns.c.status == str(status))
    rows = conn.execute(query).all()
    ids = list_ids_of(conn, [r.id for r in rows])
    return [entity(r, ids[r.id]) for r in rows]


def delete_campaign(conn: Connection, campaign_id: int) -> None:
    conn.execute(delete(campaigns).where(campaigns.c.id == campaign_id))


def due_scheduled(conn: Connection, now: datetime) -> list[str]:
    """Public ids of scheduled campaigns whose time has come, earliest first."""
    return list(conn.execute(
        select(campaigns.c.uid).where(campaigns.c.status == str(CampaignStatus.SCHEDULED),
                                      campaigns.c.scheduled_at <= now)
        .order_by(campaigns.c.scheduled_at)).scalars())


def progress_at(conn: Connection, campaign_id: int) -> datetime | None:
    value: datetime | None = conn.execute(
        select(campaigns.c.progress_at).where(campaigns.c.id == campaign_id)).scalar()
    return value


def status_of(conn: Connection, campaign_id: int) -> CampaignStatus | None:
    """Just the status (the worker polls it several times a second)."""
    value = conn.execute(select(campaigns.c.status).where(campaigns.c.id == campaign_id)
                         ).scalar()
    return CampaignStatus(value) if value is not None else None


def running_ids(conn: Connection) -> list[int]:
    return list(conn.execute(select(campaigns.c.id).where(
        campaigns.c.status == str(CampaignStatus.RUNNING)).order_by(campaigns.c.id)).scalars())
