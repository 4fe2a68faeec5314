"""What the delivery engine reads to build messages: layouts, list texts, users."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from tidings.db import lists as db_lists
from tidings.db.tables import lists, templates, users
from tidings.domain.lists import MailingList


def layout(conn: Connection, template_id: int | None) -> str | None:
    """The source of a layout template, or None (the default layout)."""
    if template_id is None:
        return None
    value: str | None = conn.execute(
        select(templates.c.body).where(templates.c.id == template_id)).scalar()
    return value


def lists_in_order(conn: Connection, ids: Sequence[int]) -> list[MailingList]:
    """The lists of ``ids`` in that order (missing ones left out)."""
    found = {item.id: item for item in db_lists.by_ids(conn, ids)}
    return [found[i] for i in ids if i in found]


def welcome_texts(conn: Connection, list_id: int) -> tuple[str | None, str | None]:
    row = conn.execute(select(lists.c.welcome_subject, lists.c.welcome_body)
                       .where(lists.c.id == list_id)).one_or_none()
    return (row.welcome_subject, row.welcome_body) if row else (None, None)


def user_for_reset(conn: Connection, user_id: int) -> tuple[str, int] | None:
    """A user's name and session version, for a password reset link."""
    row = conn.execute(select(users.c.name, users.c.session_version)
                       .where(users.c.id == user_id)).one_or_none()
    return (row.name, row.session_version) if row else None
