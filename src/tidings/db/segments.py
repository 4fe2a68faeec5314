"""Queries on segments, and compiling a segment filter into one SQL condition.

:func:`condition` turns a filter validated by :mod:`tidings.domain.segments` into a
SQLAlchemy boolean expression over ``subscribers`` for the connection's dialect. Every
value is a bound parameter and every attribute path is bound too: nothing the user
wrote becomes SQL text. Attributes are read with ``json_extract``/``json_type`` on
SQLite and with the JSONB operators ``@>``, ``#>``, ``#>>`` on PostgreSQL, where
equality is a containment test so that the GIN index on ``subscribers.attributes``
serves it.

Every condition compiles to an expression that is never NULL (a type test comes with
each JSON comparison), so ``not`` is always the exact complement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Integer,
    Row,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from tidings.db.tables import campaigns, deliveries, lists, segments, subscribers, subscriptions
from tidings.domain import segments as domain
from tidings.domain.campaigns import FINAL, CampaignStatus
from tidings.domain.segments import Segment

Condition = ColumnElement[bool]


def entity(row: Row[Any]) -> Segment:
    return Segment(id=row.id, uid=row.uid, name=row.name, filter=dict(row.filter),
                   created_at=row.created_at, updated_at=row.updated_at)


def insert_segment(conn: Connection, *, uid: str, name: str, filter: dict[str, Any],
                   now: datetime) -> Segment:
    row = conn.execute(insert(segments).values(uid=uid, name=name, filter=filter,
                                               created_at=now, updated_at=now)
                       .returning(*segments.c)).one()
    return entity(row)


def update_segment(conn: Connection, segment_id: int, now: datetime, **values: Any) -> Segment:
    row = conn.execute(update(segments).where(segments.c.id == segment_id)
                       .values(**values, updated_at=now).returning(*segments.c)).one()
    return entity(row)


def get(conn: Connection, segment_id: int) -> Segment | None:
    row = conn.execute(select(segments).where(segments.c.id == segment_id)).one_or_none()
    return entity(row) if row else None


def get_by_uid(conn: Connection, uid: str) -> Segment | None:
    row = conn.execute(select(segments).where(segments.c.uid == uid)).one_or_none()
    return entity(row) if row else None


def all_segments(conn: Connection) -> list[Segment]:
    return [entity(r) for r in conn.execute(select(segments).order_by(segments.c.name,
                                                                      segments.c.id))]


def delete_segment(conn: Connection, segment_id: int) -> None:
    conn.execute(delete(segments).where(segments.c.id == segment_id))


def campaigns_using(conn: Connection, segment_id: int) -> list[tuple[str, CampaignStatus]]:
    """(public id, status) of the campaigns that are not finished or cancelled and use it."""
    rows = conn.execute(select(campaigns.c.uid, campaigns.c.status).where(
        campaigns.c.segment_id == segment_id,
        campaigns.c.status.not_in([str(s) for s in FINAL])))
    return [(uid, CampaignStatus(status)) for uid, status in rows]


def count(conn: Connection, node: Mapping[str, Any], *, now: datetime) -> int:
    """Subscribers (any status) matching the validated filter ``node``."""
    query = select(func.count()).select_from(subscribers).where(
        condition(conn, node, now=now))
    return int(conn.execute(query).scalar_one())


def condition(conn: Connection, node: Mapping[str, Any], *, now: datetime) -> Condition:
    """The SQL condition on ``subscribers`` equivalent to the validated filter ``node``.

    ``now`` anchors ``within_last_days``. List slugs and campaign ids are resolved
    here; one that no longer exists matches nobody.
    """
    refs = domain.references(node)
    list_ids: dict[str, int] = {}
    campaign_ids: dict[str, int] = {}
    if refs.list_slugs:
        list_ids = {slug: lid for slug, lid in conn.execute(
            select(lists.c.slug, lists.c.id).where(lists.c.slug.in_(sorted(refs.list_slugs))))}
    if refs.campaign_uids:
        campaign_ids = {uid: cid for uid, cid in conn.execute(
            select(campaigns.c.uid, campaigns.c.id)
            .where(campaigns.c.uid.in_(sorted(refs.campaign_uids))))}
    dialect: _Dialect
    if conn.dialect.name == "postgresql":
        dialect = _Postgres()
    else:
        span = None
        if "created_at" in refs.fields:
            span = conn.execute(select(func.min(subscribers.c.created_at),
                                       func.max(subscribers.c.created_at))).one()
        dialect = _SQLite(span[0] if span else None, span[1] if span else None)
    return _Compiler(dialect, list_ids, campaign_ids, now).node(node)


_LIST_STATUSES = {
    "member": ("unconfirmed", "confirmed", "unsubscribed"),
    "subscribed": ("unconfirmed", "confirmed"),
    "confirmed": ("confirmed",),
    "unconfirmed": ("unconfirmed",),
    "unsubscribed": ("unsubscribed",),
}

# Cheap tests first: SQLite evaluates the terms of a conjunction in the order written.
_COST = {"status": 0, "created_at": 0, "email": 1, "name": 1, "list": 3, "campaign": 3}


def _cost(node: Mapping[str, Any]) -> int:
    if "field" not in node:
        return 4
    return _COST.get(node["field"], 2)


class _Dialect:
    """How one database spells text and JSON tests."""

    def contains(self, text: ColumnElement[Any], value: str) -> Condition:
        raise NotImplementedError

    def ends_with(self, text: ColumnElement[Any], value: str) -> Condition:
        raise NotImplementedError

    def attribute(self, keys: Sequence[str], op: str, value: Any) -> Condition:
        raise NotImplementedError

    def starts_with(self, text: ColumnElement[Any], value: str) -> Condition:
        return func.substr(text, 1, bindparam(None, len(value), type_=Integer)) == value

    def attribute_in(self, keys: Sequence[str], values: Sequence[Any]) -> Condition:
        return or_(*(self.attribute(keys, "eq", v) for v in values))

    def created(self, test: Condition, op: str, instant: datetime) -> Condition:
        """A test on ``created_at``; the database's planner estimates it well itself."""
        return test


_SQLITE_KINDS = {"string": ("text",), "number": ("integer", "real")}


# SQLite's planner takes an index range over created_at even when it spans a third of
# the table, and then reads rows in index order: about ten times slower per row than a
# sequential scan. Above this share of subscribers the test is marked as unselective
# (``likelihood``) so that the scan wins; below it, the index serves.
INDEX_WORTHWHILE = 0.05


class _SQLite(_Dialect):
    def __init__(self, oldest: datetime | None = None, newest: datetime | None = None) -> None:
        self.oldest = oldest
        self.newest = newest

    def created(self, test: Condition, op: str, instant: datetime) -> Condition:
        if self.oldest is None or self.newest is None:
            return test
        span = (self.newest - self.oldest).total_seconds()
        if span <= 0:
            share = 1.0
        elif op == "before":
            share = (instant - self.oldest).total_seconds() / span
        else:
            share = (self.newest - instant).total_seconds() / span
        if share <= INDEX_WORTHWHILE:
            return test
        return func.likelihood(test, literal_column("0.99"), type_=Boolean)

    def attribute_in(self, keys: Sequence[str], values: Sequence[Any]) -> Condition:
        """One ``IN`` per JSON type: two JSON reads per row instead of two per value."""
        path = _sqlite_path(keys)
        kind = func.coalesce(func.json_type(subscribers.c.attributes, path), "")
        extracted = func.json_extract(subscribers.c.attributes, path)
        texts = [v for v in values if isinstance(v, str)]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        flags = sorted({"true" if v else "false" for v in values if isinstance(v, bool)})
        parts: list[Condition] = []
        if texts:
            parts.append(and_(extracted.in_(texts), kind.in_(_SQLITE_KINDS["string"])))
        if numbers:
            parts.append(and_(extracted.in_(numbers), kind.in_(_SQLITE_KINDS["number"])))
        if flags:
            parts.append(kind.in_(flags))
        return or_(false(), *parts)

    def contains(self, text: ColumnElement[Any], value: str) -> Condition:
        return func.instr(text, value) > 0

    def ends_with(self, text: ColumnElement[Any], value: str) -> Condition:
        return func.substr(text, bindparam(None, -len(value), type_=Integer)) == value

    def attribute(self, keys: Sequence[str], op: str, value: Any) -> Condition:
        path = _sqlite_path(keys)
        kind = func.coalesce(func.json_type(subscribers.c.attributes, path), "")
        extracted = func.json_extract(subscribers.c.attributes, path)
        if op == "exists":
            return func.json_type(subscribers.c.attributes, path).is_not(None)
        if op == "eq":
            if isinstance(value, bool):
                return kind == ("true" if value else "false")
            names = _SQLITE_KINDS["string" if isinstance(value, str) else "number"]
            # The value test first: it rejects most rows with one JSON parse.
            return and_(extracted == value, kind.in_(names))
        if op in ("lt", "lte", "gt", "gte"):
            return and_(_compare(extracted, op, value), kind.in_(_SQLITE_KINDS["number"]))
        text_test = _text_test(self, extracted, op, value)
        return and_(text_test, kind == "text") if text_test is not None else kind == "text"


def _sqlite_path(keys: Sequence[str]) -> ColumnElement[str]:
    return literal("$" + "".join(f'."{key}"' for key in keys), type_=Text)


class _Postgres(_Dialect):
    def contains(self, text: ColumnElement[Any], value: str) -> Condition:
        return func.strpos(text, value) > 0

    def ends_with(self, text: ColumnElement[Any], value: str) -> Condition:
        return func.right(text, bindparam(None, len(value), type_=Integer)) == value

    def attribute(self, keys: Sequence[str], op: str, value: Any) -> Condition:
        attributes = subscribers.c.attributes
        path = bindparam(None, list(keys), type_=ARRAY(Text))
        node = attributes.op("#>", return_type=JSONB)(path)
        kind = func.coalesce(func.jsonb_typeof(node), "")
        if op == "exists":
            return node.is_not(None)
        if op == "eq":
            document: Any = value
            for key in reversed(keys):
                document = {key: document}
            return _contains_document(document)
        if op in ("lt", "lte", "gt", "gte"):
            bound = cast(literal(json.dumps(value), type_=Text), JSONB)
            return and_(kind == "number", _compare(node, op, bound))
        text = attributes.op("#>>", return_type=Text)(path)
        text_test = _text_test(self, text, op, value)
        return and_(kind == "string", text_test) if text_test is not None else kind == "string"


def _contains_document(document: Any) -> Condition:
    bound = cast(literal(json.dumps(document), type_=Text), JSONB)
    return subscribers.c.attributes.bool_op("@>")(bound)


def _compare(left: ColumnElement[Any], op: str, right: Any) -> Condition:
    comparisons: dict[str, Callable[[Any, Any], Condition]] = {
        "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
        "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
    }
    return comparisons[op](left, right)


def _text_test(dialect: _Dialect, text: ColumnElement[Any], op: str,
               value: str) -> Condition | None:
    """contains / starts_with / ends_with; None when the value is empty (always true)."""
    if value == "":
        return None
    if op == "contains":
        return dialect.contains(text, value)
    if op == "starts_with":
        return dialect.starts_with(text, value)
    return dialect.ends_with(text, value)


class _Compiler:
    def __init__(self, dialect: _Dialect, list_ids: dict[str, int],
                 campaign_ids: dict[str, int], now: datetime) -> None:
        self.dialect = dialect
        self.list_ids = list_ids
        self.campaign_ids = campaign_ids
        self.now = now

    def node(self, node: Mapping[str, Any]) -> Condition:
        if "not" in node:
            return not_(self.node(node["not"]))
        if "all" in node:
            children = [self.node(c) for c in sorted(node["all"], key=_cost)]
            return and_(true(), *children) if children else true()
        if "any" in node:
            children = [self.node(c) for c in sorted(node["any"], key=_cost)]
            return or_(false(), *children) if children else false()
        return self.condition(node["field"], node["op"], node.get("value"))

    def condition(self, field: str, op: str, value: Any) -> Condition:
        if field.startswith("attributes."):
            keys = domain.attribute_keys(field)
            if op == "ne":
                return not_(self.dialect.attribute(keys, "eq", value))
            if op == "in":
                return self.dialect.attribute_in(keys, value)
            return self.dialect.attribute(keys, op, value)
        if field in ("email", "name"):
            return self.text(field, op, value)
        if field == "status":
            status: ColumnElement[str] = subscribers.c.status
            if op == "in":
                return status.in_(value)
            return status == str(value) if op == "eq" else status != str(value)
        if field == "created_at":
            created: ColumnElement[datetime] = subscribers.c.created_at
            instant = self.now - timedelta(days=value) if op == "within_last_days" \
                else domain.instant(value)
            test = created < instant if op == "before" else created >= instant
            return self.dialect.created(test, op, instant)
        if field == "list":
            list_id = self.list_ids.get(value)
            if list_id is None:
                return false()
            return exists().where(subscriptions.c.subscriber_id == subscribers.c.id,
                                  subscriptions.c.list_id == list_id,
                                  subscriptions.c.status.in_(_LIST_STATUSES[op]))
        # campaign
        campaign_id = self.campaign_ids.get(value)
        received: Condition = false() if campaign_id is None else exists().where(
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.subscriber_id == subscribers.c.id,
            deliveries.c.status == "sent")
        return received if op == "received" else not_(received)

    def text(self, field: str, op: str, value: Any) -> Condition:
        column: ColumnElement[str]
        if field == "email":
            # lower(email) is what the unique index covers.
            column = func.lower(subscribers.c.email)
            value = [v.lower() for v in value] if op == "in" else value.lower()
        else:
            column = subscribers.c.name
        if op == "eq":
            return column == str(value)
        if op == "ne":
            return column != str(value)
        if op == "in":
            return column.in_(value)
        test = _text_test(self.dialect, column, op, value)
        return true() if test is None else test
