"""Scheduling: time zones and daylight saving, the tick, restarts, held campaigns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tidings import bootstrap
from tidings.bootstrap import Runtime
from tidings.db import events
from tidings.domain.campaigns import CampaignStatus
from tidings.domain.errors import InvalidTransition, ValidationError
from tidings.domain.lists import OptIn
from tidings.domain.timezones import to_utc
from tidings.services import campaigns, lists, runtime_settings, scheduling, sending, subscribers

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # "now" in these tests


@pytest.fixture
def draft(runtime: Runtime) -> str:
    lists.create(runtime.db, slug="news", name="News", optin=OptIn.SINGLE)
    subscribers.add(runtime.db, email="ann@example.com", lists=["news"], preconfirmed=True)
    return campaigns.create(runtime.db, name="Issue", subject="Hi", body="Body",
                            lists=["news"]).uid


@pytest.mark.parametrize(("local", "zone", "utc"), [
    # Oslo: CET (UTC+1) in winter, CEST (UTC+2) from 2026-03-29 02:00 to 2026-10-25 03:00.
    (datetime(2026, 3, 28, 8, 0), "Europe/Oslo", datetime(2026, 3, 28, 7, 0)),
    (datetime(2026, 3, 29, 8, 0), "Europe/Oslo", datetime(2026, 3, 29, 6, 0)),
    (datetime(2026, 3, 29, 3, 0), "Europe/Oslo", datetime(2026, 3, 29, 1, 0)),
    (datetime(2026, 3, 29, 1, 59), "Europe/Oslo", datetime(2026, 3, 29, 0, 59)),
    # 02:30 on 2026-10-25 happens twice in Oslo: the first one (CEST) is taken.
    (datetime(2026, 10, 25, 2, 30), "Europe/Oslo", datetime(2026, 10, 25, 0, 30)),
    (datetime(2026, 10, 25, 3, 30), "Europe/Oslo", datetime(2026, 10, 25, 2, 30)),
    # New York: EST (UTC-5) until 2026-03-08 02:00, then EDT (UTC-4).
    (datetime(2026, 3, 7, 9, 0), "America/New_York", datetime(2026, 3, 7, 14, 0)),
    (datetime(2026, 3, 9, 9, 0), "America/New_York", datetime(2026, 3, 9, 13, 0)),
    # Southern hemisphere: Sydney leaves daylight time on 2026-04-05.
    (datetime(2026, 4, 4, 9, 0), "Australia/Sydney", datetime(2026, 4, 3, 22, 0)),
    (datetime(2026, 4, 6, 9, 0), "Australia/Sydney", datetime(2026, 4, 5, 23, 0)),
    (datetime(2026, 6, 1, 9, 0), "UTC", datetime(2026, 6, 1, 9, 0)),
])
def test_wall_clock_times_become_the_right_instant(local: datetime, zone: str,
                                                   utc: datetime) -> None:
    assert to_utc(local, zone) == utc.replace(tzinfo=UTC)


@pytest.mark.parametrize(("local", "zone"), [
    (datetime(2026, 3, 29, 2, 30), "Europe/Oslo"),
    (datetime(2026, 3, 8, 2, 15), "America/New_York"),
])
def test_a_skipped_local_time_is_refused(local: datetime, zone: str) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        to_utc(local, zone)


def test_scheduling_stores_utc_and_the_zone(runtime: Runtime, draft: str) -> None:
    done = scheduling.schedule(runtime.db, draft, datetime(2026, 3, 29, 8, 0), "Europe/Oslo",
                               now=JAN)
    assert done.status is CampaignStatus.SCHEDULED
    assert done.scheduled_at == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert done.timezone == "Europe/Oslo"
    assert done.scheduled_at.astimezone(ZoneInfo(done.timezone)).hour == 8
    aware = datetime(2026, 2, 1, 8, 0, tzinfo=ZoneInfo("America/New_York"))
    moved = scheduling.schedule(runtime.db, draft, aware, "America/New_York", now=JAN)
    assert moved.scheduled_at == datetime(2026, 2, 1, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(("at", "zone", "message"), [
    (datetime(2026, 1, 1, 8, 0), "UTC", "past"),
    (datetime(2026, 3, 29, 2, 30), "Europe/Oslo", "does not exist"),
    (datetime(2026, 5, 1, 8, 0), "Mars/Olympus", "time zone"),
    (datetime(2026, 5, 1, 8, 0), "../../etc/passwd", "time zone"),
])
def test_bad_schedules_are_refused_and_change_nothing(runtime: Runtime, draft: str,
                                                      at: datetime, zone: str,
                                                      message: str) -> None:
    before = campaigns.get(runtime.db, draft)
    with pytest.raises(ValidationError, match=message):
        scheduling.schedule(runtime.db, draft, at, zone, now=JAN)
    assert campaigns.get(runtime.db, draft) == before


def test_the_tick_starts_campaigns_on_time_across_dst(runtime: Runtime, draft: str) -> None:
    db = runtime.db
    scheduling.schedule(db, draft, datetime(2026, 3, 29, 8, 0), "Europe/Oslo", now=JAN)
    due = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert scheduling.run_due(db, due - timedelta(seconds=1)) == []
    assert campaigns.get(db, draft).status is CampaignStatus.SCHEDULED
    started = scheduling.run_due(db, due + timedelta(seconds=3))
    assert [c.uid for c in started] == [draft]
    assert campaigns.get(db, draft).status is CampaignStatus.RUNNING
    assert scheduling.run_due(db, due + timedelta(seconds=6)) == []


def test_after_a_short_outage_a_due_campaign_still_starts(runtime: Runtime, draft: str) -> None:
    scheduling.schedule(runtime.db, draft, datetime(2026, 2, 1, 8, 0), "UTC", now=JAN)
    runtime.close()  # the server stops ...
    restarted = bootstrap.build(runtime.settings, pool_size=2)  # ... and starts again later
    try:
        later = datetime(2026, 2, 1, 8, 40, tzinfo=UTC)  # 40 minutes late: within the grace
        assert [c.uid for c in scheduling.run_due(restarted.db, later)] == [draft]
        assert campaigns.get(restarted.db, draft).status is CampaignStatus.RUNNING
    finally:
        restarted.close()


def test_after_a_long_outage_a_campaign_is_held_not_sent(runtime: Runtime, draft: str) -> None:
    db = runtime.db
    scheduling.schedule(db, draft, datetime(2026, 2, 1, 8, 0), "UTC", now=JAN)
    runtime.close()
    restarted = bootstrap.build(runtime.settings, pool_size=2)
    db = restarted.db
    try:
        much_later = datetime(2026, 2, 1, 11, 0, tzinfo=UTC)  # three hours late
        assert scheduling.run_due(db, much_later) == []
        held = campaigns.get(db, draft)
        assert held.status is CampaignStatus.SCHEDULED and held.total == 0
        assert held.audience_max_id is None and held.started_at is None
        assert scheduling.held_since(held) == much_later
        assert scheduling.describe(held) == "scheduled (held)"
        assert [c.uid for c in scheduling.held(db)] == [draft]
        for tick in range(1, 4):  # the tick keeps holding it
            assert scheduling.run_due(db, much_later + timedelta(minutes=tick)) == []
        assert campaigns.get(db, draft) == held
        with db.read() as conn:
            kinds = [e["kind"] for e in events.recent(conn, subject_type="campaign",
                                                      subject_id=held.id)]
        assert kinds.count("campaign.held") == 1
    finally:
        restarted.close()


def test_the_grace_period_is_a_runtime_setting(runtime: Runtime, draft: str) -> None:
    db = runtime.db
    runtime_settings.update(db, {"campaigns.late_grace_minutes": 240})
    scheduling.schedule(db, draft, datetime(2026, 2, 1, 8, 0), "UTC", now=JAN)
    assert len(scheduling.run_due(db, datetime(2026, 2, 1, 11, 0, tzinfo=UTC))) == 1
    with pytest.raises(ValidationError):
        runtime_settings.update(db, {"campaigns.late_grace_minutes": 0})


@pytest.fixture
def held_uid(runtime: Runtime, draft: str) -> str:
    scheduling.schedule(runtime.db, draft, datetime(2026, 2, 1, 8, 0), "UTC", now=JAN)
    scheduling.run_due(runtime.db, datetime(2026, 2, 2, 8, 0, tzinfo=UTC))
    assert scheduling.held_since(campaigns.get(runtime.db, draft)) is not None
    return draft


def test_decision_send_now(runtime: Runtime, held_uid: str) -> None:
    started = scheduling.send_now(runtime.db, held_uid, actor="editor")
    assert started.status is CampaignStatus.RUNNING and started.total == 1
    assert scheduling.held_since(started) is None and scheduling.held(runtime.db) == []


def test_decision_reschedule(runtime: Runtime, held_uid: str) -> None:
    db = runtime.db
    now = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
    moved = scheduling.schedule(db, held_uid, datetime(2026, 2, 3, 7, 0), "Europe/Oslo",
                                now=now)
    assert moved.status is CampaignStatus.SCHEDULED and scheduling.held_since(moved) is None
    assert moved.scheduled_at == datetime(2026, 2, 3, 6, 0, tzinfo=UTC)
    assert scheduling.run_due(db, datetime(2026, 2, 3, 5, 59, tzinfo=UTC)) == []
    assert len(scheduling.run_due(db, datetime(2026, 2, 3, 6, 0, 5, tzinfo=UTC))) == 1


def test_decision_cancel(runtime: Runtime, held_uid: str) -> None:
    cancelled = sending.cancel(runtime.db, held_uid)
    assert cancelled.status is CampaignStatus.CANCELLED and scheduling.held(runtime.db) == []
    with pytest.raises(InvalidTransition):
        scheduling.send_now(runtime.db, held_uid)


def test_decision_back_to_draft(runtime: Runtime, held_uid: str) -> None:
    draft = scheduling.unschedule(runtime.db, held_uid)
    assert draft.status is CampaignStatus.DRAFT and draft.scheduled_at is None
    assert "held_at" not in draft.extra
