"""Creating, changing and removing mailing lists."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tidings.db import events
from tidings.db import lists as db_lists
from tidings.db.database import Database
from tidings.domain import lists as domain
from tidings.domain.errors import Conflict, NotFound, ValidationError
from tidings.domain.ids import as_internal_id, looks_like_uid, new_uid, plausible_ref
from tidings.domain.lists import MailingList, OptIn, Visibility
from tidings.domain.timezones import utcnow

MAX_DESCRIPTION = 2000


def create(db: Database, *, slug: str, name: str, description: str = "",
           visibility: Visibility = Visibility.PUBLIC, optin: OptIn = OptIn.DOUBLE,
           actor: str | None = None) -> MailingList:
    """Create a list; raise :class:`Conflict` if the slug is taken."""
    domain.check_slug(slug)
    name = domain.check_name(name)
    description = _check_description(description)
    now = utcnow()
    try:
        with db.write() as conn:
            created = db_lists.insert_list(conn, uid=new_uid(), slug=slug, name=name,
                                           description=description, visibility=visibility,
                                           optin=optin, now=now)
            events.record(conn, "list.created", now, actor=actor, subject_type="list",
                          subject_id=created.id, data={"slug": slug})
    except IntegrityError:
        raise Conflict(f"A list with the slug {slug!r} exists already.", field="slug") from None
    return created


def update(db: Database, ref: str, *, name: str | None = None,
           description: str | None = None, visibility: Visibility | None = None,
           optin: OptIn | None = None, actor: str | None = None) -> MailingList:
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = domain.check_name(name)
    if description is not None:
        values["description"] = _check_description(description)
    if visibility is not None:
        values["visibility"] = visibility
    if optin is not None:
        values["optin"] = optin
    now = utcnow()
    with db.write() as conn:
        current = find(conn, ref)
        if not values:
            return current
        changed = db_lists.update_list(conn, current.id, now, **values)
        events.record(conn, "list.updated", now, actor=actor, subject_type="list",
                      subject_id=current.id, data={k: str(v) for k, v in values.items()})
    return changed


def get(db: Database, ref: str) -> MailingList:
    """Find a list by slug, public id or integer id; raise :class:`NotFound`."""
    with db.read() as conn:
        return find(conn, ref)


def resolve(db: Database, refs: Sequence[str]) -> list[MailingList]:
    """Every list named in ``refs`` (slugs, public ids or integer ids), in order, no repeats."""
    with db.read() as conn:
        found: dict[int, MailingList] = {}
        for ref in refs:
            mailing_list = find(conn, ref)
            found.setdefault(mailing_list.id, mailing_list)
    return list(found.values())


def all_lists(db: Database, *, visibility: Visibility | None = None) -> list[MailingList]:
    with db.read() as conn:
        return db_lists.all_lists(conn, visibility=visibility)


def counts(db: Database) -> dict[int, dict[str, int]]:
    """Members per list and subscription status."""
    with db.read() as conn:
        return db_lists.member_counts(conn)


def delete(db: Database, ref: str, *, actor: str | None = None) -> MailingList:
    """Delete a list and its subscriptions (subscribers stay)."""
    now = utcnow()
    with db.write() as conn:
        found = find(conn, ref)
        db_lists.delete_list(conn, found.id)
        events.record(conn, "list.deleted", now, actor=actor, subject_type="list",
                      subject_id=found.id, data={"slug": found.slug})
    return found


def find(conn: Connection, ref: str) -> MailingList:
    ref = ref.strip()
    if not plausible_ref(ref):
        raise NotFound(f"No list {ref!r}.")
    found = db_lists.get_by_slug(conn, ref)
    if found is None and looks_like_uid(ref):
        found = db_lists.get_by_uid(conn, ref)
    if found is None and as_internal_id(ref) is not None:
        found = db_lists.get(conn, int(ref))
    if found is None:
        raise NotFound(f"No list {ref!r}.")
    return found


def _check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError(f"The description is longer than {MAX_DESCRIPTION} characters.",
                              field="description")
    if any(ord(c) < 32 and c not in "\n\t" for c in description):
        raise ValidationError("The description contains control characters.",
                              field="description")
    return description.strip()
