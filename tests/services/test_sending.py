from __future__ import annotations

from datetime import timedelta

import pytest

from tidings.bootstrap import Runtime
from tidings.db import campaigns as db_campaigns
from tidings.domain.campaigns import CampaignStatus
from tidings.domain.errors import InvalidTransition
from tidings.domain.lists import OptIn
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.timezones import utcnow
from tidings.services import campaigns, lists, scheduling, sending, subscribers


@pytest.fixture
def draft_uid(runtime: Runtime) -> str:
    db = runtime.db
    lists.create(db, slug="a", name="A", optin=OptIn.SINGLE)
    lists.create(db, slug="b", name="B", optin=OptIn.DOUBLE)
    subscribers.add(db, email="both@example.com", lists=["a", "b"], preconfirmed=True)
    subscribers.add(db, email="pending@example.com", lists=["b"])
    subscribers.add(db, email="blocked@example.com", lists=["a"])
    subscribers.update(db, "blocked@example.com", status=SubscriberStatus.BLOCKLISTED)
    return campaigns.create(db, name="c", subject="s", body="b", lists=["a", "b"]).uid


def test_start_freezes_a_deduplicated_audience(runtime: Runtime, draft_uid: str) -> None:
    started = sending.start(runtime.db, draft_uid)
    assert started.status is CampaignStatus.RUNNING
    assert started.total == 1  # both@ once; pending@ unconfirmed; blocked@ blocklisted
    assert started.audience_max_id == 3
    subscribers.add(runtime.db, email="late@example.com", lists=["a"])
    assert campaigns.get(runtime.db, draft_uid).audience_max_id == 3


def test_pause_resume_cancel_follow_the_state_machine(runtime: Runtime, draft_uid: str) -> None:
    db = runtime.db
    with pytest.raises(InvalidTransition):
        sending.pause(db, draft_uid)
    sending.start(db, draft_uid)
    assert sending.pause(db, draft_uid).status is CampaignStatus.PAUSED
    with pytest.raises(InvalidTransition):
        sending.start(db, draft_uid)
    assert sending.resume(db, draft_uid).status is CampaignStatus.RUNNING
    cancelled = sending.cancel(db, draft_uid)
    assert cancelled.status is CampaignStatus.CANCELLED and cancelled.finished_at is not None
    with pytest.raises(InvalidTransition):
        sending.resume(db, draft_uid)


def test_run_due_starts_only_due_scheduled_campaigns(runtime: Runtime, draft_uid: str) -> None:
    db = runtime.db
    later = campaigns.create(db, name="later", subject="s", body="b", lists=["a"])
    now = utcnow()
    with db.write() as conn:
        for uid, when in ((draft_uid, now - timedelta(minutes=1)),
                          (later.uid, now + timedelta(hours=1))):
            found = campaigns.find(conn, uid)
            db_campaigns.update_campaign(conn, found.id, now, status=CampaignStatus.SCHEDULED,
                                         scheduled_at=when)
    assert [c.uid for c in scheduling.run_due(db, now)] == [draft_uid]
    assert campaigns.get(db, later.uid).status is CampaignStatus.SCHEDULED
