"""Editing campaigns through the services: the state machine holds everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tidings.bootstrap import Runtime
from tidings.db.tables import events, outbox
from tidings.domain import campaigns as domain
from tidings.domain.campaigns import BodyFormat, CampaignStatus
from tidings.domain.errors import InvalidTransition, NotFound, ValidationError
from tidings.domain.lists import OptIn
from tidings.domain.timezones import utcnow
from tidings.services import campaigns, lists, scheduling, segments, sending, subscribers
from tidings.services import templates as template_service

FUTURE = datetime(2100, 1, 1, 9, 0)


@pytest.fixture
def news(runtime: Runtime) -> None:
    lists.create(runtime.db, slug="news", name="News", optin=OptIn.SINGLE)
    lists.create(runtime.db, slug="sport", name="Sport", optin=OptIn.SINGLE)
    subscribers.add(runtime.db, email="ann@example.com", name="Ann Smith", lists=["news"],
                    attributes={"city": "Oslo"}, preconfirmed=True)


def _in_state(runtime: Runtime, status: CampaignStatus) -> str:
    """A campaign brought to ``status`` through the services."""
    db = runtime.db
    uid = campaigns.create(db, name=f"c-{status}", subject="Hi", body="Body",
                           lists=["news"]).uid
    if status is CampaignStatus.SCHEDULED:
        scheduling.schedule(db, uid, FUTURE, "Europe/Oslo")
    elif status is not CampaignStatus.DRAFT:
        sending.start(db, uid)
        if status is CampaignStatus.PAUSED:
            sending.pause(db, uid)
        elif status is CampaignStatus.CANCELLED:
            sending.cancel(db, uid)
        elif status is CampaignStatus.FINISHED:
            assert sending.finish(db, campaigns.get(db, uid).id)
    assert campaigns.get(db, uid).status is status
    return uid


OPERATIONS: dict[str, tuple[Callable[[Runtime, str], Any], set[CampaignStatus]]] = {
    "edit": (lambda rt, uid: campaigns.update(rt.db, uid, subject="New"),
             {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}),
    "schedule": (lambda rt, uid: scheduling.schedule(rt.db, uid, FUTURE, "UTC"),
                 {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}),
    "unschedule": (lambda rt, uid: scheduling.unschedule(rt.db, uid),
                   {CampaignStatus.SCHEDULED}),
    "delete": (lambda rt, uid: campaigns.delete(rt.db, uid), {CampaignStatus.DRAFT}),
    "start": (lambda rt, uid: scheduling.send_now(rt.db, uid),
              {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}),
    "pause": (lambda rt, uid: sending.pause(rt.db, uid), {CampaignStatus.RUNNING}),
    "resume": (lambda rt, uid: sending.resume(rt.db, uid), {CampaignStatus.PAUSED}),
    "cancel": (lambda rt, uid: sending.cancel(rt.db, uid),
               {CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED}),
}


def _snapshot(runtime: Runtime, uid: str) -> tuple[Any, int]:
    with runtime.db.read() as conn:
        found = campaigns.find(conn, uid)
        logged = len(conn.execute(select(events.c.id).where(
            events.c.subject_type == "campaign", events.c.subject_id == found.id)).all())
    return found, logged


@pytest.mark.usefixtures("news")
@pytest.mark.parametrize("status", list(CampaignStatus))
def test_every_operation_follows_the_state_machine(runtime: Runtime,
                                                   status: CampaignStatus) -> None:
    for name, (operation, allowed) in OPERATIONS.items():
        uid = _in_state(runtime, status)
        before = _snapshot(runtime, uid)
        if status in allowed:
            operation(runtime, uid)
            continue
        with pytest.raises(InvalidTransition):
            operation(runtime, uid)
        assert _snapshot(runtime, uid) == before, f"{name} changed a {status} campaign"


def test_the_services_agree_with_the_domain_table() -> None:
    def sources(target: CampaignStatus) -> set[CampaignStatus]:
        return {s for s in CampaignStatus if domain.can_transition(s, target)}

    expected = {
        "schedule": sources(CampaignStatus.SCHEDULED) | {CampaignStatus.SCHEDULED},  # reschedule
        "unschedule": sources(CampaignStatus.DRAFT),
        "start": sources(CampaignStatus.RUNNING) - {CampaignStatus.PAUSED},
        "resume": sources(CampaignStatus.RUNNING) & {CampaignStatus.PAUSED},
        "pause": sources(CampaignStatus.PAUSED),
        "cancel": sources(CampaignStatus.CANCELLED),
        "edit": set(domain.EDITABLE),
    }
    assert {name: OPERATIONS[name][1] for name in expected} == expected


@pytest.mark.usefixtures("news")
def test_edit_changes_only_what_is_given(runtime: Runtime) -> None:
    db = runtime.db
    draft = campaigns.create(db, name="Issue", subject="Hi {{ subscriber.first_name }}",
                             body="# Title", lists=["news"], from_name="Desk")
    segment = segments.create(db, name="Oslo", filter={"field": "attributes.city",
                                                       "op": "eq", "value": "Oslo"})
    changed = campaigns.update(db, draft.uid, subject="Hello", lists=["news", "sport"],
                               segment_id=segment.id, reply_to="Desk@Example.com")
    assert (changed.subject, changed.body, changed.from_name) == ("Hello", "# Title", "Desk")
    assert changed.reply_to == "Desk@example.com"
    assert len(changed.list_ids) == 2 and changed.segment_id == segment.id
    assert changed.template_id == template_service.all_templates(db)[0].id
    segment_only = campaigns.update(db, draft.uid, lists=[])
    assert segment_only.list_ids == () and campaigns.audience_count(db, draft.uid) == 1
    with pytest.raises(ValidationError):
        campaigns.update(db, draft.uid, segment_id=None)  # nobody left to send to
    assert campaigns.get(db, draft.uid) == segment_only


@pytest.mark.usefixtures("news")
@pytest.mark.parametrize(("changes", "error"), [
    ({"subject": "Hi {{ subscriber.nme }}"}, ValidationError),
    ({"subject": "{{ ''.__class__ }}"}, ValidationError),
    ({"body": "{% include 'secret' %}"}, ValidationError),
    ({"body": "{{ subscriber.name | safe }}"}, ValidationError),
    ({"body_format": BodyFormat.HTML, "body": "{% for %}"}, ValidationError),
    ({"from_email": "not an address"}, ValidationError),
    ({"template_id": 999}, NotFound),
    ({"segment_id": 999}, NotFound),
    ({"lists": ["missing"]}, NotFound),
])
def test_bad_edits_are_refused_and_change_nothing(runtime: Runtime, changes: dict[str, Any],
                                                  error: type[Exception]) -> None:
    draft = campaigns.create(runtime.db, name="Issue", subject="Hi", body="Body",
                             lists=["news"])
    with pytest.raises(error):
        campaigns.update(runtime.db, draft.uid, **changes)
    assert campaigns.get(runtime.db, draft.uid) == draft


@pytest.mark.usefixtures("news")
def test_template_problems_are_reported_by_line(runtime: Runtime) -> None:
    with pytest.raises(ValidationError) as caught:
        campaigns.create(runtime.db, name="x", subject="s", lists=["news"],
                         body_format=BodyFormat.HTML,
                         body="<p>fine</p>\n<p>{{ subscriber.emial }}</p>")
    assert caught.value.details["problems"][0]["line"] == 2
    assert "line 2" in caught.value.message


@pytest.mark.usefixtures("news")
def test_clone_makes_an_independent_draft(runtime: Runtime) -> None:
    db = runtime.db
    source = campaigns.create(db, name="Issue 7", subject="S", body="B", lists=["news"],
                              extra={"preheader": "Read me"})
    sending.start(db, source.uid)
    copy = campaigns.clone(db, source.uid)
    assert copy.status is CampaignStatus.DRAFT and copy.uid != source.uid
    assert (copy.name, copy.subject, copy.body, copy.list_ids) == (
        "Copy of Issue 7", "S", "B", source.list_ids)
    assert copy.extra == {"preheader": "Read me"} and copy.scheduled_at is None
    assert copy.total == 0 and copy.archive_slug is None
    campaigns.update(db, copy.uid, subject="Changed")
    assert campaigns.get(db, source.uid).subject == "S"


@pytest.mark.usefixtures("news")
def test_test_sends_are_queued_for_the_worker(runtime: Runtime) -> None:
    db = runtime.db
    draft = campaigns.create(db, name="Issue", subject="S", body="B", lists=["news"])
    ids = campaigns.send_test(db, draft.uid, ["Editor@Example.com", "editor@example.com",
                                              "ann@example.com"])
    with db.read() as conn:
        rows = conn.execute(select(outbox.c.kind, outbox.c.to_email, outbox.c.payload)
                            .order_by(outbox.c.id)).all()
    assert len(ids) == 3 and [r.kind for r in rows] == ["test"] * 3
    assert all(r.payload == {"campaign_id": draft.id} for r in rows)
    for bad in ([], ["x"], [f"e{i}@example.com" for i in range(11)]):
        with pytest.raises(ValidationError):
            campaigns.send_test(db, draft.uid, bad)
    with db.read() as conn:
        assert len(conn.execute(select(outbox.c.id)).all()) == 3


@pytest.mark.usefixtures("news")
def test_preview_is_personal_and_names_the_reader(runtime: Runtime) -> None:
    db = runtime.db
    draft = campaigns.create(db, name="Issue", subject="For {{ subscriber.first_name }}",
                             body="Weather in {{ subscriber.attributes.city }}.",
                             lists=["news"])
    shown = campaigns.preview(db, draft.uid, site=runtime.settings, tokens=runtime.tokens,
                              subscriber="ann@example.com")
    headers = dict(shown.headers)
    assert headers["Subject"] == "For Ann" and "ann@example.com" in headers["To"]
    assert "Weather in Oslo." in shown.text and "Weather in Oslo." in shown.html
    assert "/u/" in shown.html and "List-Unsubscribe" in headers
    anonymous = campaigns.preview(db, draft.uid, site=runtime.settings, tokens=runtime.tokens)
    assert dict(anonymous.headers)["Subject"] == "For Reader"
    with pytest.raises(NotFound):
        campaigns.preview(db, draft.uid, site=runtime.settings, tokens=runtime.tokens,
                          subscriber="nobody@example.com")


@pytest.mark.usefixtures("news")
def test_scheduled_campaigns_are_still_editable_and_keep_their_time(runtime: Runtime) -> None:
    db = runtime.db
    uid = _in_state(runtime, CampaignStatus.SCHEDULED)
    when = campaigns.get(db, uid).scheduled_at
    changed = campaigns.update(db, uid, body="New body")
    assert changed.status is CampaignStatus.SCHEDULED and changed.scheduled_at == when
    assert when == datetime(2100, 1, 1, 8, 0, tzinfo=UTC)  # 09:00 in Oslo is CET (UTC+1)
    assert utcnow() < when < utcnow() + timedelta(days=365 * 80)


@pytest.mark.usefixtures("news")
def test_a_preview_follows_every_change_it_depends_on(runtime: Runtime) -> None:
    from tidings.services import runtime_settings

    db = runtime.db
    draft = campaigns.create(db, name="Issue", subject="First", body="Body", lists=["news"])

    def shown() -> dict[str, str]:
        found = campaigns.preview(db, draft.uid, site=runtime.settings, tokens=runtime.tokens,
                                  subscriber="ann@example.com")
        return {**dict(found.headers), "text": found.text}

    assert shown()["Subject"] == "First"
    campaigns.update(db, draft.uid, subject="Second", from_name="The Desk")
    assert shown()["Subject"] == "Second" and "The Desk" in shown()["From"]
    lists.update(db, "news", name="Morning News")
    assert shown()["List-Id"].startswith("Morning News")
    runtime_settings.update(db, {"publisher.name": "The Northern Post"})
    assert "The Northern Post" in shown()["text"]
    custom = template_service.create(db, name="Plain", body="<p>PLAIN {{ content }}</p>")
    campaigns.update(db, draft.uid, template_id=custom.id)
    assert "PLAIN" in shown()["text"]
