"""Segments: saved, named filters over subscribers, written as structured JSON.

A filter is a tree. Groups combine nodes; conditions test one thing::

    {"all": [node, ...]}     every node matches (an empty "all" matches everyone)
    {"any": [node, ...]}     at least one node matches (an empty "any" matches nobody)
    {"not": node}            the node does not match
    {"field": F, "op": O, "value": V}

Fields and their operators (the reference, with examples, is ``docs/editors.md``):

=====================  ==============================================================
``email``, ``name``    ``eq ne in contains starts_with ends_with`` (text; ``email``
                       ignores case, ``name`` does not)
``status``             ``eq ne in`` (``enabled`` / ``blocklisted``)
``created_at``         ``before`` / ``after`` (an ISO date or date-time; ``after``
                       includes the instant itself), ``within_last_days`` (integer)
``attributes.<path>``  ``eq ne in`` (text, number or boolean), ``lt lte gt gte``
                       (number), ``contains starts_with ends_with`` (text),
                       ``exists`` (no value)
``list``               ``member subscribed confirmed unconfirmed unsubscribed``;
                       value: the list's slug (``subscribed`` = confirmed or unconfirmed)
``campaign``           ``received`` / ``not_received``; value: the campaign's id
=====================  ==============================================================

Values are typed: ``{"op": "eq", "value": 5}`` matches the number 5, never the text
"5" nor ``true``. Every condition is two-valued: a missing attribute simply does not
match, so ``not`` always means the complement.

:func:`validate` checks a filter strictly and returns a normalised copy; errors name
the path of the offending node (``$.all[1].any[0].value``). Compiling to SQL is
:mod:`tidings.db.segments`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tidings.domain.errors import ValidationError

MAX_DEPTH = 8            # nesting of groups
MAX_NODES = 200          # groups and conditions together
MAX_IN_VALUES = 500      # values of one "in"
MAX_TEXT = 1000          # characters of one text value
MAX_PATH_DEPTH = 5       # keys in one attribute path
MAX_DAYS = 36500

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}\Z")

TEXT_OPS = frozenset({"eq", "ne", "in", "contains", "starts_with", "ends_with"})
NUMBER_OPS = frozenset({"lt", "lte", "gt", "gte"})
ATTRIBUTE_OPS = TEXT_OPS | NUMBER_OPS | {"exists"}
STATUS_OPS = frozenset({"eq", "ne", "in"})
DATE_OPS = frozenset({"before", "after", "within_last_days"})
LIST_OPS = frozenset({"member", "subscribed", "confirmed", "unconfirmed", "unsubscribed"})
CAMPAIGN_OPS = frozenset({"received", "not_received"})
STATUSES = frozenset({"enabled", "blocklisted"})

FIELDS = ("email", "name", "status", "created_at", "attributes.<path>", "list", "campaign")

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    uid: str
    name: str
    filter: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class References:
    """What a filter points at outside the subscriber row, and the fields it tests."""

    list_slugs: frozenset[str]
    campaign_uids: frozenset[str]
    fields: frozenset[str] = frozenset()


def _fail(path: str, message: str) -> ValidationError:
    return ValidationError(f"Segment filter {path}: {message}", field="filter", path=path)


def validate(node: Any) -> dict[str, Any]:
    """Return a normalised copy of ``node`` or raise :class:`ValidationError`."""
    counter = [0]
    return _node(node, "$", 0, counter)


def _node(node: Any, path: str, depth: int, counter: list[int]) -> dict[str, Any]:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise _fail(path, f"the filter has more than {MAX_NODES} nodes.")
    if not isinstance(node, Mapping):
        raise _fail(path, "expected an object: a group (all, any, not) or a condition "
                          "(field, op, value).")
    keys = set(node)
    groups = keys & {"all", "any", "not"}
    if groups:
        if len(keys) != 1:
            raise _fail(path, "a group has exactly one key, all, any or not; found "
                              + ", ".join(sorted(map(str, keys))) + ".")
        if depth >= MAX_DEPTH:
            raise _fail(path, f"groups are nested more than {MAX_DEPTH} deep.")
        (kind,) = groups
        if kind == "not":
            return {"not": _node(node["not"], f"{path}.not", depth + 1, counter)}
        children = node[kind]
        if not isinstance(children, list):
            raise _fail(f"{path}.{kind}", "expected a list of nodes.")
        return {kind: [_node(child, f"{path}.{kind}[{i}]", depth + 1, counter)
                       for i, child in enumerate(children)]}
    return _condition(node, path)


def _condition(node: Mapping[str, Any], path: str) -> dict[str, Any]:
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        raise _fail(path, "unknown key(s) " + ", ".join(sorted(map(str, unknown)))
                    + "; a condition has field, op and value.")
    field = node.get("field")
    op = node.get("op")
    if not isinstance(field, str):
        raise _fail(f"{path}.field", "expected one of " + ", ".join(FIELDS) + ".")
    if not isinstance(op, str):
        raise _fail(f"{path}.op", "expected an operator name.")
    if field.startswith("attributes."):
        _attribute_path(field, f"{path}.field")
        ops = ATTRIBUTE_OPS
    elif field in ("email", "name"):
        ops = TEXT_OPS
    elif field == "status":
        ops = STATUS_OPS
    elif field == "created_at":
        ops = DATE_OPS
    elif field == "list":
        ops = LIST_OPS
    elif field == "campaign":
        ops = CAMPAIGN_OPS
    else:
        raise _fail(f"{path}.field", f"unknown field {field!r}; expected one of "
                    + ", ".join(FIELDS) + ".")
    if op not in ops:
        raise _fail(f"{path}.op", f"{field} does not support {op!r}; use one of "
                    + ", ".join(sorted(ops)) + ".")
    value_path = f"{path}.value"
    if op == "exists":
        if "value" in node:
            raise _fail(value_path, "exists takes no value.")
        return {"field": field, "op": op}
    if "value" not in node:
        raise _fail(value_path, "missing.")
    value = node["value"]
    return {"field": field, "op": op, "value": _value(field, op, value, value_path)}


def _attribute_path(field: str, path: str) -> tuple[str, ...]:
    keys = tuple(field.split(".")[1:])
    if not 1 <= len(keys) <= MAX_PATH_DEPTH:
        raise _fail(path, f"an attribute path has 1 to {MAX_PATH_DEPTH} keys.")
    for key in keys:
        if not _KEY.match(key):
            raise _fail(path, f"attribute key {key!r} must start with a letter or _ and "
                              "contain only letters, digits, _ and - (at most 64).")
    return keys


def attribute_keys(field: str) -> tuple[str, ...]:
    """The keys of an ``attributes.<path>`` field of a validated filter."""
    return tuple(field.split(".")[1:])


def _value(field: str, op: str, value: Any, path: str) -> Any:
    if field in ("email", "name"):
        return _text_or_list(op, value, path)
    if field == "status":
        if op == "in":
            return [_status(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path))]
        return _status(value, path)
    if field == "created_at":
        if op == "within_last_days":
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not 0 <= value <= MAX_DAYS:
                raise _fail(path, f"expected a whole number of days from 0 to {MAX_DAYS}.")
            return value
        return _instant(value, path).isoformat()
    if field == "list":
        if not isinstance(value, str) or not value or len(value) > 64:
            raise _fail(path, "expected a list slug.")
        return value
    if field == "campaign":
        if not isinstance(value, str) or not value or len(value) > 64:
            raise _fail(path, "expected a campaign id.")
        return value
    # attributes
    if op in NUMBER_OPS:
        return _number(value, path)
    if op in ("contains", "starts_with", "ends_with"):
        return _text(value, path)
    if op == "in":
        return [_scalar(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path))]
    return _scalar(value, path)


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _fail(path, "expected a non-empty list of values.")
    if len(value) > MAX_IN_VALUES:
        raise _fail(path, f"more than {MAX_IN_VALUES} values.")
    return value


def _text_or_list(op: str, value: Any, path: str) -> Any:
    if op == "in":
        return [_text(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path))]
    return _text(value, path)


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, "expected text.")
    if len(value) > MAX_TEXT:
        raise _fail(path, f"text longer than {MAX_TEXT} characters.")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise _fail(path, "text contains a NUL or an unpaired surrogate.")
    return value


def _number(value: Any, path: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, "expected a number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(path, "expected a finite number.")
    if isinstance(value, int) and abs(value) > 2**53:
        raise _fail(path, "numbers are limited to ±2^53.")
    return value


def _scalar(value: Any, path: str) -> Scalar:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _number(value, path)
    if isinstance(value, str):
        return _text(value, path)
    raise _fail(path, "expected text, a number or true/false.")


def _status(value: Any, path: str) -> str:
    if not isinstance(value, str) or value not in STATUSES:
        raise _fail(path, "expected " + " or ".join(sorted(STATUSES)) + ".")
    return str(value)


def _instant(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise _fail(path, "expected an ISO 8601 date (2024-05-01) or date-time.")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(path, "expected an ISO 8601 date (2024-05-01) or date-time.") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def instant(value: str) -> datetime:
    """The UTC instant of a validated ``before``/``after`` value."""
    return _instant(value, "$")


def references(node: Mapping[str, Any]) -> References:
    """The list slugs, campaign ids and fields a validated filter mentions."""
    slugs: set[str] = set()
    uids: set[str] = set()
    fields: set[str] = set()
    stack: list[Mapping[str, Any]] = [node]
    while stack:
        current = stack.pop()
        if "not" in current:
            stack.append(current["not"])
        elif "all" in current or "any" in current:
            stack.extend(current.get("all", current.get("any", [])))
        else:
            fields.add(current["field"])
            if current["field"] == "list":
                slugs.add(current["value"])
            elif current["field"] == "campaign":
                uids.add(current["value"])
    return References(frozenset(slugs), frozenset(uids), frozenset(fields))


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError("The segment name is empty.", field="name")
    if len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ValidationError("The segment name is too long or contains control characters.",
                              field="name")
    return name
