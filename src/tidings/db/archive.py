"""Queries on the public archive: campaigns published to it that have gone out."""

from __future__ import annotations

from sqlalchemy import Connection, func, or_, select

from tidings.db.campaigns import entity, list_ids_of
from tidings.db.tables import campaigns
from tidings.domain.campaigns import Campaign, CampaignStatus

#: Issues show once they have started going out; a cancelled one never shows.
VISIBLE = (str(CampaignStatus.RUNNING), str(CampaignStatus.PAUSED),
           str(CampaignStatus.FINISHED))
_PUBLIC = (campaigns.c.archive.is_(True), campaigns.c.status.in_(VISIBLE),
           campaigns.c.started_at.is_not(None))


def issues(conn: Connection, *, limit: int, offset: int = 0) -> list[Campaign]:
    """Published issues, newest first."""
    rows = conn.execute(select(campaigns).where(*_PUBLIC)
                        .order_by(campaigns.c.started_at.desc(), campaigns.c.id.desc())
                        .limit(limit).offset(offset)).all()
    ids = list_ids_of(conn, [r.id for r in rows])
    return [entity(r, ids[r.id]) for r in rows]


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(campaigns).where(*_PUBLIC))
               .scalar_one())


def issue(conn: Connection, slug: str) -> Campaign | None:
    """The published issue with ``slug`` (or, for an issue without one, its public id)."""
    row = conn.execute(select(campaigns).where(
        *_PUBLIC, or_(campaigns.c.archive_slug == slug,
                      (campaigns.c.uid == slug) & campaigns.c.archive_slug.is_(None)))
    ).one_or_none()
    return entity(row, list_ids_of(conn, [row.id])[row.id]) if row else None


def slug_taken(conn: Connection, slug: str, campaign_id: int) -> bool:
    return conn.execute(select(campaigns.c.id).where(
        campaigns.c.archive_slug == slug, campaigns.c.id != campaign_id)).first() is not None
