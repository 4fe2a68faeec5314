"""Queries on mailing lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, or_, select, update

from tidings.db.tables import lists, subscriptions
from tidings.domain.ids import as_internal_id
from tidings.domain.lists import MailingList, OptIn, Visibility


def _entity(row: Row[Any]) -> MailingList:
    return MailingList(
        id=row.id, uid=row.uid, slug=row.slug, name=row.name, description=row.description,
        visibility=Visibility(row.visibility), optin=OptIn(row.optin),
        created_at=row.created_at, updated_at=row.updated_at,
    )


def insert_list(conn: Connection, *, uid: str, slug: str, name: str, description: str,
                visibility: Visibility, optin: OptIn, now: datetime) -> MailingList:
    row = conn.execute(
        insert(lists).values(uid=uid, slug=slug, name=name, description=description,
                             visibility=str(visibility), optin=str(optin),
                             created_at=now, updated_at=now).returning(*lists.c)
    ).one()
    return _entity(row)


def update_list(conn: Connection, list_id: int, now: datetime, **values: Any) -> MailingList:
    row = conn.execute(
        update(lists).where(lists.c.id == list_id)
        .values(**{k: str(v) if isinstance(v, Visibility | OptIn) else v
                   for k, v in values.items()}, updated_at=now)
        .returning(*lists.c)
    ).one()
    return _entity(row)


def get(conn: Connection, list_id: int) -> MailingList | None:
    row = conn.execute(select(lists).where(lists.c.id == list_id)).one_or_none()
    return _entity(row) if row else None


def get_by_slug(conn: Connection, slug: str) -> MailingList | None:
    row = conn.execute(select(lists).where(lists.c.slug == slug)).one_or_none()
    return _entity(row) if row else None


def get_by_uid(conn: Connection, uid: str) -> MailingList | None:
    row = conn.execute(select(lists).where(lists.c.uid == uid)).one_or_none()
    return _entity(row) if row else None


def all_lists(conn: Connection, *, visibility: Visibility | None = None) -> list[MailingList]:
    query = select(lists).order_by(lists.c.name, lists.c.id)
    if visibility is not None:
        query = query.where(lists.c.visibility == str(visibility))
    return [_entity(r) for r in conn.execute(query)]


def by_ids(conn: Connection, ids: Sequence[int]) -> list[MailingList]:
    if not ids:
        return []
    return [_entity(r) for r in conn.execute(
        select(lists).where(lists.c.id.in_(list(ids))).order_by(lists.c.id))]


def delete_list(conn: Connection, list_id: int) -> None:
    conn.execute(delete(lists).where(lists.c.id == list_id))


def member_counts(conn: Connection, list_ids: Sequence[int] | None = None,
                  ) -> dict[int, dict[str, int]]:
    """``{list_id: {status: count}}`` from the (list_id, status, ...) index."""
    query = (select(subscriptions.c.list_id, subscriptions.c.status, func.count())
             .group_by(subscriptions.c.list_id, subscriptions.c.status))
    if list_ids is not None:
        query = query.where(subscriptions.c.list_id.in_(list(list_ids)))
    counts: dict[int, dict[str, int]] = {}
    for list_id, status, n in conn.execute(query):
        counts.setdefault(list_id, {})[status] = n
    return counts


def public_by_refs(conn: Connection, refs: Sequence[str]) -> list[MailingList]:
    """The public lists named by public id, slug or integer id; private ones never match."""
    if not refs:
        return []
    numbers = [n for r in refs if (n := as_internal_id(r)) is not None]
    rows = conn.execute(_PUBLIC_BY_REFS, {"refs": list(refs), "refs_": list(refs),
                                          "numbers": numbers})
    return [_entity(r) for r in rows]


# Built once with expanding parameters: every signup resolves its lists.
_PUBLIC_BY_REFS = (
    select(lists)
    .where(lists.c.visibility == str(Visibility.PUBLIC),
           or_(lists.c.uid.in_(bindparam("refs", expanding=True)),
               lists.c.slug.in_(bindparam("refs_", expanding=True)),
               lists.c.id.in_(bindparam("numbers", expanding=True))))
    .order_by(lists.c.id))


def with_welcome(conn: Connection, list_ids: Sequence[int]) -> list[int]:
    """Those of ``list_ids`` that have a welcome message (subject and body set)."""
    if not list_ids:
        return []
    return list(conn.execute(
        select(lists.c.id).where(lists.c.id.in_(list(list_ids)),
                                 lists.c.welcome_subject.is_not(None),
                                 lists.c.welcome_subject != "",
                                 lists.c.welcome_body.is_not(None),
                                 lists.c.welcome_body != "")
        .order_by(lists.c.id)).scalars())
