"""The segment filter language evaluated in plain Python, written from the documented
semantics (docs/editors.md) and independently of the SQL compiler: the property tests
compare the two."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tidings.domain.segments import instant

_MISSING = object()
_LIST_STATUSES = {
    "member": {"unconfirmed", "confirmed", "unsubscribed"},
    "subscribed": {"unconfirmed", "confirmed"},
    "confirmed": {"confirmed"},
    "unconfirmed": {"unconfirmed"},
    "unsubscribed": {"unsubscribed"},
}


@dataclass
class Person:
    email: str
    name: str
    status: str
    created_at: datetime
    attributes: dict[str, Any]
    lists: dict[str, str] = field(default_factory=dict)      # slug -> subscription status
    received: set[str] = field(default_factory=set)          # campaign uids delivered


def _kind(value: Any) -> str:
    if value is _MISSING:
        return "missing"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _lookup(attributes: Mapping[str, Any], keys: list[str]) -> Any:
    current: Any = attributes
    for key in keys:
        if not isinstance(current, dict) or key not in current:
            return _MISSING
        current = current[key]
    return current


def _equal(actual: Any, wanted: Any) -> bool:
    kind = _kind(wanted)
    return _kind(actual) == kind and actual == wanted


def _text(op: str, actual: str, wanted: str) -> bool:
    if op == "contains":
        return wanted in actual
    if op == "starts_with":
        return actual.startswith(wanted)
    return actual.endswith(wanted)


def matches(node: Mapping[str, Any], person: Person, now: datetime) -> bool:
    if "not" in node:
        return not matches(node["not"], person, now)
    if "all" in node:
        return all(matches(n, person, now) for n in node["all"])
    if "any" in node:
        return any(matches(n, person, now) for n in node["any"])
    field_name, op, value = node["field"], node["op"], node.get("value")
    if field_name.startswith("attributes."):
        actual = _lookup(person.attributes, field_name.split(".")[1:])
        if op == "exists":
            return actual is not _MISSING
        if op == "eq":
            return _equal(actual, value)
        if op == "ne":
            return not _equal(actual, value)
        if op == "in":
            return any(_equal(actual, v) for v in value)
        if op in ("lt", "lte", "gt", "gte"):
            if _kind(actual) != "number":
                return False
            return {"lt": actual < value, "lte": actual <= value,
                    "gt": actual > value, "gte": actual >= value}[op]
        return _kind(actual) == "string" and _text(op, actual, value)
    if field_name in ("email", "name"):
        text = person.email.lower() if field_name == "email" else person.name
        if field_name == "email":
            value = [v.lower() for v in value] if op == "in" else value.lower()
        if op == "eq":
            return text == value
        if op == "ne":
            return text != value
        if op == "in":
            return text in value
        return _text(op, text, value)
    if field_name == "status":
        if op == "in":
            return person.status in value
        return (person.status == value) == (op == "eq")
    if field_name == "created_at":
        if op == "within_last_days":
            return person.created_at >= now - timedelta(days=value)
        moment = instant(value)
        return person.created_at < moment if op == "before" else person.created_at >= moment
    if field_name == "list":
        return person.lists.get(value) in _LIST_STATUSES[op]
    received = value in person.received
    return received if op == "received" else not received
