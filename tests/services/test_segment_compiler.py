"""The segment compiler against a Python evaluation of the same filter, on both databases.

Hypothesis draws random subscribers (attributes of every JSON type, list memberships,
deliveries) and random filters over the whole language; the ids SQL selects must be
exactly those the Python oracle accepts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from tests.support.segment_oracle import Person, matches
from tidings.bootstrap import Runtime
from tidings.db import segments as db_segments
from tidings.db.tables import deliveries, subscribers, subscriptions
from tidings.domain import segments as domain
from tidings.domain.lists import OptIn
from tidings.services import campaigns, lists

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
SLUGS = ("a", "b")

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00",
                                       exclude_categories=("Cs",)), max_size=5)
words = st.sampled_from(["Oslo", "oslo", "Os", "lo", "5", "", "Bergen", "true", "Å"])
numbers = st.one_of(st.sampled_from([0, 1, 5, 0.5, 1.0, 2.25, -0.1, 1e20]), st.integers(-5, 100),
                    st.floats(-1e6, 1e6, allow_nan=False))
scalars = st.one_of(words, texts, numbers, st.booleans())
json_values = st.one_of(scalars, st.none(), st.lists(scalars, max_size=3),
                        st.fixed_dictionaries({}, optional={"city": scalars, "zip": numbers}))
KEYS = ("city", "age", "vip", "score", "tags", "address", "n-1", "_x")
attributes = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5)
PATHS = (*(f"attributes.{k}" for k in KEYS), "attributes.address.city",
         "attributes.address.zip", "attributes.tags.first", "attributes.missing")
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 1, 1),
                       timezones=st.just(UTC))
people = st.lists(st.builds(
    Person,
    email=st.sampled_from(["ann", "Bob", "carl.d", "EVE+x"]),
    name=st.one_of(st.sampled_from(["Ann", "ann", "Ånn Ö", "Bob Smith", ""]), texts),
    status=st.sampled_from(["enabled", "blocklisted"]),
    created_at=moments,
    attributes=attributes,
    lists=st.dictionaries(st.sampled_from(SLUGS),
                          st.sampled_from(["unconfirmed", "confirmed", "unsubscribed"])),
    received=st.sets(st.sampled_from(["sent", "failed"]), max_size=1),
), max_size=10)


def _harvest(population: list[Person]) -> list[str]:
    """Text in the population and slices of it, so text tests hit as often as they miss."""
    found: list[str] = []
    for person in population:
        values = [person.name, person.email.split("@")[0],
                  *(v for v in person.attributes.values() if isinstance(v, str))]
        for text in values:
            found.extend({text, text[1:], text[:-1], text[:2], text[-2:]})
    return found or [""]


def _condition(draw: st.DrawFn, seen: list[str]) -> dict[str, Any]:
    words_seen = st.one_of(words, texts, st.sampled_from(seen))
    field = draw(st.sampled_from(("attr", "attr", "attr", "email", "name", "status",
                                  "created_at", "list", "campaign")))
    if field == "attr":
        path = draw(st.sampled_from(PATHS))
        op = draw(st.sampled_from(sorted(domain.ATTRIBUTE_OPS)))
        if op == "exists":
            return {"field": path, "op": op}
        if op in domain.NUMBER_OPS:
            value: Any = draw(numbers)
        elif op in ("contains", "starts_with", "ends_with"):
            value = draw(words_seen)
        elif op == "in":
            value = draw(st.lists(scalars, min_size=1, max_size=4))
        else:
            value = draw(scalars)
        return {"field": path, "op": op, "value": value}
    if field in ("email", "name"):
        op = draw(st.sampled_from(sorted(domain.TEXT_OPS)))
        pool = (st.sampled_from(["ann", "ANN", "@example.com", ".org", "bob0@example.com",
                                 "Bob1@EXAMPLE.com", "x"]) if field == "email"
                else st.one_of(st.sampled_from(["Ann", "ann", "Å", "Smith", ""]), words_seen))
        value = draw(st.lists(pool, min_size=1, max_size=3)) if op == "in" else draw(pool)
        return {"field": field, "op": op, "value": value}
    if field == "status":
        op = draw(st.sampled_from(sorted(domain.STATUS_OPS)))
        pool = st.sampled_from(sorted(domain.STATUSES))
        value = draw(st.lists(pool, min_size=1, max_size=2)) if op == "in" else draw(pool)
        return {"field": field, "op": op, "value": value}
    if field == "created_at":
        op = draw(st.sampled_from(sorted(domain.DATE_OPS)))
        if op == "within_last_days":
            return {"field": field, "op": op, "value": draw(st.integers(0, 2500))}
        moment = draw(moments)
        value = draw(st.sampled_from([moment.date().isoformat(), moment.isoformat(),
                                      moment.astimezone(PLUS_TWO).isoformat()]))
        return {"field": field, "op": op, "value": value}
    if field == "list":
        return {"field": "list", "op": draw(st.sampled_from(sorted(domain.LIST_OPS))),
                "value": draw(st.sampled_from((*SLUGS, "gone")))}
    return {"field": "campaign", "op": draw(st.sampled_from(sorted(domain.CAMPAIGN_OPS))),
            "value": draw(st.sampled_from(["CAMPAIGN", "unknown-campaign"]))}


@st.composite
def filters(draw: st.DrawFn, seen: list[str], depth: int = 0) -> dict[str, Any]:
    kind = draw(st.sampled_from(("cond", "cond", "all", "any", "not") if depth < 3
                                else ("cond",)))
    if kind == "cond":
        return _condition(draw, seen)
    if kind == "not":
        return {"not": draw(filters(seen, depth + 1))}
    return {kind: draw(st.lists(filters(seen, depth + 1), max_size=3))}


@pytest.fixture
def campaign_uid(runtime: Runtime) -> str:
    for slug in SLUGS:
        lists.create(runtime.db, slug=slug, name=slug.upper(), optin=OptIn.SINGLE)
    return campaigns.create(runtime.db, name="c", subject="s", body="b", lists=["a"]).uid


def _store(runtime: Runtime, population: list[Person], campaign_uid: str) -> list[int]:
    with runtime.db.write() as conn:
        conn.execute(delete(deliveries))
        conn.execute(delete(subscriptions))
        conn.execute(delete(subscribers))
        list_ids = {slug: lists.find(conn, slug).id for slug in SLUGS}
        campaign_id = campaigns.find(conn, campaign_uid).id
        ids = []
        for i, person in enumerate(population):
            local, _, _ = person.email.partition("@")
            person.email = f"{local}{i}@{'Example.com' if i % 2 else 'example.org'}"
            sid = conn.execute(insert(subscribers).values(
                uid=f"s{i:015d}", email=person.email, name=person.name, status=person.status,
                attributes=person.attributes, created_at=person.created_at,
                updated_at=person.created_at).returning(subscribers.c.id)).scalar_one()
            ids.append(sid)
            for slug, status in person.lists.items():
                conn.execute(insert(subscriptions).values(
                    subscriber_id=sid, list_id=list_ids[slug], status=status,
                    created_at=NOW, updated_at=NOW))
            for outcome in person.received:
                conn.execute(insert(deliveries).values(
                    campaign_id=campaign_id, subscriber_id=sid, status=outcome, updated_at=NOW))
            person.received = {campaign_uid} if person.received == {"sent"} else set()
    return ids


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(population=people, data=st.data())
def test_sql_selects_exactly_what_python_accepts(runtime: Runtime, campaign_uid: str,
                                                 population: list[Person],
                                                 data: st.DataObject) -> None:
    drawn = data.draw(st.lists(filters(_harvest(population)), min_size=1, max_size=4))
    ids = _store(runtime, population, campaign_uid)
    for node in drawn:
        node = _with_campaign(node, campaign_uid)
        clean = domain.validate(node)
        expected = {sid for sid, person in zip(ids, population, strict=True)
                    if matches(clean, person, NOW)}
        with runtime.db.read() as conn:
            condition = db_segments.condition(conn, clean, now=NOW)
            found = set(conn.execute(select(subscribers.c.id).where(condition)).scalars())
            assert db_segments.count(conn, clean, now=NOW) == len(expected)
        assert found == expected, node


def _with_campaign(node: dict[str, Any], uid: str) -> dict[str, Any]:
    if node.get("field") == "campaign" and node["value"] == "CAMPAIGN":
        return {**node, "value": uid}
    if "not" in node:
        return {"not": _with_campaign(node["not"], uid)}
    for kind in ("all", "any"):
        if kind in node:
            return {kind: [_with_campaign(n, uid) for n in node[kind]]}
    return node
