"""Segments as editors use them: strict validation, live counts, campaign audiences."""

from __future__ import annotations

from typing import Any

import pytest

from tidings.bootstrap import Runtime
from tidings.db import audience
from tidings.domain import segments as domain
from tidings.domain.errors import Conflict, ValidationError
from tidings.domain.lists import OptIn
from tidings.domain.subscribers import SubscriberStatus
from tidings.services import campaigns, lists, segments, sending, subscribers

OSLO = {"field": "attributes.city", "op": "eq", "value": "Oslo"}


@pytest.fixture
def readers(runtime: Runtime) -> None:
    db = runtime.db
    lists.create(db, slug="news", name="News", optin=OptIn.SINGLE)
    lists.create(db, slug="sport", name="Sport", optin=OptIn.DOUBLE)
    people: list[tuple[str, dict[str, Any], list[str], bool]] = [
        ("ann@example.com", {"city": "Oslo", "age": 34, "pro": True}, ["news"], True),
        ("bob@example.com", {"city": "Bergen", "age": 51}, ["news", "sport"], True),
        ("cat@example.org", {"city": "Oslo", "age": 19, "pro": False}, ["sport"], False),
        ("dan@example.org", {"address": {"city": "Oslo"}}, ["news"], True),
        ("eve@example.com", {"city": "Oslo", "age": "34"}, ["news"], True),
    ]
    for email, attributes, on, confirmed in people:
        subscribers.add(db, email=email, attributes=attributes, lists=on,
                        preconfirmed=confirmed)
    subscribers.update(db, "eve@example.com", status=SubscriberStatus.BLOCKLISTED)


@pytest.mark.usefixtures("readers")
@pytest.mark.parametrize(("node", "count"), [
    (OSLO, 3),
    ({"field": "attributes.address.city", "op": "eq", "value": "Oslo"}, 1),
    ({"field": "attributes.age", "op": "gte", "value": 34}, 2),       # "34" is text, not 34
    ({"field": "attributes.age", "op": "eq", "value": "34"}, 1),
    ({"field": "attributes.pro", "op": "eq", "value": True}, 1),
    ({"field": "attributes.pro", "op": "exists"}, 2),
    ({"not": {"field": "attributes.pro", "op": "exists"}}, 3),
    ({"field": "email", "op": "ends_with", "value": "@EXAMPLE.org"}, 2),
    ({"field": "status", "op": "eq", "value": "blocklisted"}, 1),
    ({"field": "list", "op": "confirmed", "value": "sport"}, 1),
    ({"field": "list", "op": "unconfirmed", "value": "sport"}, 1),
    ({"field": "list", "op": "member", "value": "news"}, 4),
    ({"field": "created_at", "op": "within_last_days", "value": 1}, 5),
    ({"field": "created_at", "op": "before", "value": "2001-01-01"}, 0),
    ({"all": [OSLO, {"field": "list", "op": "subscribed", "value": "news"},
              {"field": "attributes.age", "op": "lt", "value": 40}]}, 1),
    ({"any": [OSLO, {"field": "attributes.age", "op": "gt", "value": 50}]}, 4),
    ({"all": []}, 5),
    ({"any": []}, 0),
])
def test_live_counts(runtime: Runtime, node: dict[str, Any], count: int) -> None:
    assert segments.count(runtime.db, node) == count


@pytest.mark.parametrize(("node", "path"), [
    ([], "$"),
    ({"all": {}}, "$.all"),
    ({"all": [OSLO, {"any": [OSLO, {"field": "attributes.city", "op": "like",
                                     "value": "x"}]}]}, "$.all[1].any[1].op"),
    ({"all": [OSLO], "any": []}, "$"),
    ({"field": "password", "op": "eq", "value": "x"}, "$.field"),
    ({"field": "attributes.", "op": "eq", "value": "x"}, "$.field"),
    ({"field": "attributes.a'b", "op": "eq", "value": "x"}, "$.field"),
    ({"field": "attributes.0", "op": "eq", "value": "x"}, "$.field"),
    ({"field": "attributes.a.b.c.d.e.f", "op": "eq", "value": 1}, "$.field"),
    ({"field": "attributes.age", "op": "lt", "value": "10"}, "$.value"),
    ({"field": "attributes.age", "op": "lt", "value": True}, "$.value"),
    ({"field": "attributes.age", "op": "eq", "value": None}, "$.value"),
    ({"field": "attributes.age", "op": "eq", "value": [1]}, "$.value"),
    ({"field": "attributes.age", "op": "eq", "value": float("nan")}, "$.value"),
    ({"field": "attributes.age", "op": "in", "value": []}, "$.value"),
    ({"field": "attributes.age", "op": "in", "value": [1, {}]}, "$.value[1]"),
    ({"field": "attributes.age", "op": "exists", "value": 1}, "$.value"),
    ({"field": "attributes.age", "op": "eq"}, "$.value"),
    ({"field": "email", "op": "lt", "value": "a"}, "$.op"),
    ({"field": "name", "op": "eq", "value": "x\x00"}, "$.value"),
    ({"field": "name", "op": "eq", "value": "x" * 1001}, "$.value"),
    ({"field": "status", "op": "eq", "value": "gone"}, "$.value"),
    ({"field": "created_at", "op": "before", "value": "yesterday"}, "$.value"),
    ({"field": "created_at", "op": "within_last_days", "value": -1}, "$.value"),
    ({"field": "list", "op": "confirmed", "value": 3}, "$.value"),
    ({"field": "email", "op": "eq", "value": "a", "sql": "1=1"}, "$"),
    ({"not": [OSLO]}, "$.not"),
])
def test_malformed_filters_name_the_bad_node(node: Any, path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        domain.validate(node)
    assert caught.value.details["path"] == path
    assert caught.value.message.startswith(f"Segment filter {path}:")


def test_depth_and_size_are_limited() -> None:
    deep: dict[str, Any] = OSLO
    for _ in range(domain.MAX_DEPTH + 1):
        deep = {"not": deep}
    with pytest.raises(ValidationError, match="deep"):
        domain.validate(deep)
    with pytest.raises(ValidationError, match="nodes"):
        domain.validate({"any": [OSLO] * domain.MAX_NODES})
    with pytest.raises(ValidationError, match="values"):
        domain.validate({"field": "name", "op": "in",
                         "value": ["x"] * (domain.MAX_IN_VALUES + 1)})


def test_values_that_look_like_sql_are_only_values(runtime: Runtime) -> None:
    db = runtime.db
    subscribers.add(db, email="x@example.com", name="Robert'); DROP TABLE subscribers;--")
    hostile = {"any": [{"field": "name", "op": "eq",
                        "value": "Robert'); DROP TABLE subscribers;--"},
                       {"field": "attributes.city", "op": "eq", "value": "' OR 1=1 --"}]}
    assert segments.count(db, hostile) == 1
    assert subscribers.count(db) == 1


@pytest.mark.usefixtures("readers")
def test_saved_segments_check_their_references(runtime: Runtime) -> None:
    db = runtime.db
    created = segments.create(db, name="Oslo readers", filter=OSLO)
    assert segments.get(db, created.uid).filter == OSLO
    with pytest.raises(ValidationError, match="no list 'gone'"):
        segments.create(db, name="x", filter={"field": "list", "op": "confirmed",
                                             "value": "gone"})
    with pytest.raises(ValidationError, match="no campaign"):
        segments.update(db, created.uid, filter={"field": "campaign", "op": "received",
                                                 "value": "AAAAAAAAAAAAAAAA"})
    assert segments.get(db, created.uid).filter == OSLO
    assert [s.name for s in segments.all_segments(db)] == ["Oslo readers"]


@pytest.mark.usefixtures("readers")
def test_a_campaign_targets_lists_a_segment_or_both(runtime: Runtime) -> None:
    db = runtime.db
    oslo = segments.create(db, name="Oslo", filter=OSLO)
    both = campaigns.create(db, name="both", subject="s", body="b", lists=["news"],
                            segment_id=oslo.id)
    only_lists = campaigns.create(db, name="lists", subject="s", body="b", lists=["news"])
    only_segment = campaigns.create(db, name="segment", subject="s", body="b",
                                    segment_id=oslo.id)
    # news confirmed & enabled: ann, bob, dan. Oslo (top-level city): ann, cat, eve.
    # Confirmed on any list and enabled: ann, bob, dan (cat is unconfirmed, eve blocklisted).
    assert campaigns.audience_count(db, both.uid) == 1           # ann
    assert campaigns.audience_count(db, only_lists.uid) == 3
    assert campaigns.audience_count(db, only_segment.uid) == 1   # ann
    started = sending.start(db, both.uid)
    assert started.total == 1
    with db.read() as conn:
        walk = audience.campaign_member_ids(conn, started, started.audience_max_id)
        ids = list(conn.execute(walk.order_by(None).limit(10)).scalars())
        assert ids == [subscribers.find(conn, "ann@example.com").id]
        # the engine's keyset walk: the same single query with a cursor
        first = audience.member_ids(started.list_ids, started.audience_max_id,
                                    audience.segment_condition(conn, oslo.id))
        assert list(conn.execute(first).scalars()) == ids


@pytest.mark.usefixtures("readers")
def test_segments_in_use_are_protected(runtime: Runtime) -> None:
    db = runtime.db
    oslo = segments.create(db, name="Oslo", filter=OSLO)
    draft = campaigns.create(db, name="c", subject="s", body="b", lists=["news"],
                             segment_id=oslo.id)
    with pytest.raises(Conflict, match=draft.uid):
        segments.delete(db, oslo.uid)
    sending.start(db, draft.uid)
    with pytest.raises(Conflict, match="being sent"):
        segments.update(db, oslo.uid, filter={"all": []})
    assert segments.update(db, oslo.uid, name="Oslo only").name == "Oslo only"
    sending.cancel(db, draft.uid)
    segments.delete(db, oslo.uid)
    assert segments.all_segments(db) == []
    assert campaigns.get(db, draft.uid).segment_id is None
