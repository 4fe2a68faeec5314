"""Queries on layout templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from tidings.db.tables import campaigns, feeds, templates
from tidings.domain.templates import Template


def entity(row: Row[Any]) -> Template:
    return Template(id=row.id, uid=row.uid, name=row.name, body=row.body,
                    is_default=bool(row.is_default), created_at=row.created_at,
                    updated_at=row.updated_at)


def insert_template(conn: Connection, *, uid: str, name: str, body: str, is_default: bool,
                    now: datetime) -> Template:
    row = conn.execute(insert(templates).values(uid=uid, name=name, body=body,
                                                is_default=is_default, created_at=now,
                                                updated_at=now)
                       .returning(*templates.c)).one()
    return entity(row)


def update_template(conn: Connection, template_id: int, now: datetime,
                    **values: Any) -> Template:
    row = conn.execute(update(templates).where(templates.c.id == template_id)
                       .values(**values, updated_at=now).returning(*templates.c)).one()
    return entity(row)


def clear_default(conn: Connection, now: datetime) -> None:
    conn.execute(update(templates).where(templates.c.is_default.is_(True))
                 .values(is_default=False, updated_at=now))


def get(conn: Connection, template_id: int) -> Template | None:
    row = conn.execute(select(templates).where(templates.c.id == template_id)).one_or_none()
    return entity(row) if row else None


def get_by_uid(conn: Connection, uid: str) -> Template | None:
    row = conn.execute(select(templates).where(templates.c.uid == uid)).one_or_none()
    return entity(row) if row else None


def default(conn: Connection) -> Template | None:
    row = conn.execute(select(templates).where(templates.c.is_default.is_(True))
                       .order_by(templates.c.id).limit(1)).one_or_none()
    return entity(row) if row else None


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(templates)).scalar_one())


def all_templates(conn: Connection) -> list[Template]:
    return [entity(r) for r in conn.execute(select(templates).order_by(templates.c.name,
                                                                       templates.c.id))]


def usage(conn: Connection, template_id: int) -> tuple[int, int]:
    """How many campaigns and feeds use the template."""
    used_by_campaigns = conn.execute(select(func.count()).select_from(campaigns)
                                     .where(campaigns.c.template_id == template_id))
    used_by_feeds = conn.execute(select(func.count()).select_from(feeds)
                                 .where(feeds.c.template_id == template_id))
    return int(used_by_campaigns.scalar_one()), int(used_by_feeds.scalar_one())


def delete_template(conn: Connection, template_id: int) -> None:
    conn.execute(delete(templates).where(templates.c.id == template_id))
