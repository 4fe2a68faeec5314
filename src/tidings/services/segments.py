"""Saved segments: create, change, delete, and count who matches a filter.

The filter language is :mod:`tidings.domain.segments`; compiling it to SQL is
:mod:`tidings.db.segments`. A filter is validated strictly before it is stored, and
the lists and campaigns it names must exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from tidings.db import events
from tidings.db import segments as db_segments
from tidings.db.database import Database
from tidings.db.tables import campaigns, lists
from tidings.domain import segments as domain
from tidings.domain.campaigns import ACTIVE
from tidings.domain.errors import Conflict, NotFound, ValidationError
from tidings.domain.ids import as_internal_id, looks_like_uid, new_uid
from tidings.domain.segments import Segment
from tidings.domain.timezones import utcnow


def check(conn: Connection, node: Any) -> dict[str, Any]:
    """Validate ``node`` and check that the lists and campaigns it names exist."""
    clean = domain.validate(node)
    refs = domain.references(clean)
    if refs.list_slugs:
        known = set(conn.execute(select(lists.c.slug).where(
            lists.c.slug.in_(sorted(refs.list_slugs)))).scalars())
        missing = sorted(refs.list_slugs - known)
        if missing:
            raise ValidationError(f"Segment filter: no list {missing[0]!r}.", field="filter")
    if refs.campaign_uids:
        known = set(conn.execute(select(campaigns.c.uid).where(
            campaigns.c.uid.in_(sorted(refs.campaign_uids)))).scalars())
        missing = sorted(refs.campaign_uids - known)
        if missing:
            raise ValidationError(f"Segment filter: no campaign {missing[0]!r}.",
                                  field="filter")
    return clean


def create(db: Database, *, name: str, filter: Mapping[str, Any] | Any,
           actor: str | None = None) -> Segment:
    clean_name = domain.check_name(name)
    now = utcnow()
    with db.write() as conn:
        clean = check(conn, filter)
        created = db_segments.insert_segment(conn, uid=new_uid(), name=clean_name,
                                             filter=clean, now=now)
        events.record(conn, "segment.created", now, actor=actor, subject_type="segment",
                      subject_id=created.id)
    return created


def update(db: Database, ref: str, *, name: str | None = None, filter: Any = None,
           actor: str | None = None) -> Segment:
    """Rename or refilter a segment; refused while a running or paused campaign uses it."""
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = domain.check_name(name)
    now = utcnow()
    with db.write() as conn:
        current = find(conn, ref)
        if filter is not None:
            values["filter"] = check(conn, filter)
            sending = [uid for uid, status in db_segments.campaigns_using(conn, current.id)
                       if status in ACTIVE]
            if sending:
                raise Conflict(f"Campaign {sending[0]} is being sent to this segment; its "
                               "filter cannot change until the campaign ends.")
        if not values:
            return current
        changed = db_segments.update_segment(conn, current.id, now, **values)
        events.record(conn, "segment.updated", now, actor=actor, subject_type="segment",
                      subject_id=current.id, data={"keys": sorted(values)})
    return changed


def delete(db: Database, ref: str, *, actor: str | None = None) -> Segment:
    """Delete a segment no unfinished campaign uses (else :class:`Conflict`)."""
    now = utcnow()
    with db.write() as conn:
        found = find(conn, ref)
        users = db_segments.campaigns_using(conn, found.id)
        if users:
            raise Conflict(f"Campaign {users[0][0]} ({users[0][1]}) uses this segment; "
                           "change or finish it first.")
        db_segments.delete_segment(conn, found.id)
        events.record(conn, "segment.deleted", now, actor=actor, subject_type="segment",
                      subject_id=found.id, data={"name": found.name})
    return found


def find(conn: Connection, ref: str) -> Segment:
    """Find a segment by public id or integer id; raise :class:`NotFound`."""
    ref = ref.strip()
    found = db_segments.get_by_uid(conn, ref) if looks_like_uid(ref) else None
    if found is None and as_internal_id(ref) is not None:
        found = db_segments.get(conn, int(ref))
    if found is None:
        raise NotFound(f"No segment {ref!r}.")
    return found


def get(db: Database, ref: str) -> Segment:
    with db.read() as conn:
        return find(conn, ref)


def all_segments(db: Database) -> list[Segment]:
    with db.read() as conn:
        return db_segments.all_segments(conn)


def count(db: Database, filter: Any) -> int:
    """How many subscribers (of any status) match ``filter`` now: the live preview."""
    with db.read() as conn:
        clean = check(conn, filter)
        return db_segments.count(conn, clean, now=utcnow())
