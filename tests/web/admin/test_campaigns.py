"""Admin campaigns: writing with a live preview, tests, scheduling, sending, controls."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.web.admin.helpers import post, signed_in
from tidings.bootstrap import Runtime
from tidings.db.tables import outbox
from tidings.domain.lists import OptIn
from tidings.domain.roles import Role
from tidings.services import campaigns, lists, subscribers

DRAFT = {"name": "Issue 1", "subject": "Hello {{ subscriber.name }}",
         "body": "# Morning\n\nThe news.", "body_format": "markdown", "lists": "daily"}


@pytest.fixture
def admin(client: TestClient, runtime: Runtime) -> TestClient:
    lists.create(runtime.db, slug="daily", name="Daily", optin=OptIn.SINGLE)
    subscribers.add(runtime.db, email="reader@example.org", lists=["daily"],
                    preconfirmed=True)
    return signed_in(client, runtime)


def test_the_preview_shows_unsaved_text_in_a_sandbox(admin: TestClient) -> None:
    shown = post(admin, "/admin/campaigns/new/preview",
                 {**DRAFT, "body": "# Fresh text\n\n<script>alert(1)</script>"})
    assert shown.status_code == 200 and "Fresh text" in shown.text
    policy = shown.headers["content-security-policy"]
    assert "sandbox" in policy and "script-src" not in policy and "default-src 'none'" in policy
    broken = post(admin, "/admin/campaigns/new/preview", {**DRAFT, "body": "{{ oops("})
    assert "cannot be used" in broken.text and "line 1" in broken.text
    assert campaigns.recent(admin.app.state.runtime.db) == []  # nothing was saved
    editor = admin.get("/admin/campaigns/new").text
    assert 'sandbox title="Preview' in editor and "allow-scripts" not in editor


def test_a_campaign_is_written_tested_sent_and_controlled(admin: TestClient,
                                                          runtime: Runtime) -> None:
    created = post(admin, "/admin/campaigns/new", DRAFT)
    assert created.status_code == 303
    path = created.headers["location"]
    assert "The news" in admin.get(path + "/preview").text
    post(admin, path, {**DRAFT, "subject": "Changed subject"})
    uid = path.rsplit("/", 1)[1]
    assert campaigns.get(runtime.db, uid).subject == "Changed subject"
    post(admin, path + "/test", {"addresses": "me@example.org, you@example.org"})
    with runtime.db.read() as conn:
        tests = conn.execute(select(outbox.c.to_email).where(outbox.c.kind == "test")).all()
    assert sorted(t.to_email for t in tests) == ["me@example.org", "you@example.org"]
    confirm = admin.get(path + "/send").text
    assert "<strong>1</strong> confirmed" in confirm
    unticked = post(admin, path + "/send", {})
    assert unticked.headers["location"].endswith("/send")
    assert str(campaigns.get(runtime.db, uid).status) == "draft"
    post(admin, path + "/send", {"confirm": "send"})
    assert str(campaigns.get(runtime.db, uid).status) == "running"
    live = admin.get(path + "/progress.json").json()
    assert live["status"] == "running" and live["total"] == 1 and live["done"] is False
    page = admin.get(path).text
    assert "data-poll" in page and "Pause" in page
    post(admin, path + "/pause")
    assert admin.get(path + "/progress.json").json()["status"] == "paused"
    post(admin, path + "/resume")
    post(admin, path + "/cancel")
    final = admin.get(path + "/progress.json").json()
    assert final["status"] == "cancelled" and final["done"] is True
    assert post(admin, path, DRAFT).status_code == 409  # no editing after sending


def test_scheduling_uses_the_chosen_time_zone(admin: TestClient, runtime: Runtime) -> None:
    path = post(admin, "/admin/campaigns/new", DRAFT).headers["location"]
    uid = path.rsplit("/", 1)[1]
    post(admin, path + "/schedule", {"at": "2099-07-01T09:00", "timezone": "Europe/Berlin"})
    found = campaigns.get(runtime.db, uid)
    assert str(found.status) == "scheduled" and found.scheduled_at is not None
    assert found.scheduled_at.hour == 7  # 09:00 CEST is 07:00 UTC
    past = post(admin, path + "/unschedule")
    assert past.status_code == 303 and str(campaigns.get(runtime.db, uid).status) == "draft"
    refused = post(admin, path + "/schedule", {"at": "2001-01-01T09:00", "timezone": "UTC"})
    assert "past" in admin.get(refused.headers["location"]).text


def test_subjects_and_names_are_escaped_in_pages(admin: TestClient) -> None:
    evil = '<img src=x onerror=alert(1)>'
    path = post(admin, "/admin/campaigns/new", {**DRAFT, "name": evil, "subject": evil}
                ).headers["location"]
    for page in ("/admin/campaigns", path, path + "/send", "/admin"):
        assert "<img src=x" not in admin.get(page).text, page


def test_viewers_cannot_send_and_editors_can(client: TestClient, runtime: Runtime) -> None:
    lists.create(runtime.db, slug="daily", name="Daily")
    draft = campaigns.create(runtime.db, name="N", subject="S", body="B", lists=["daily"])
    signed_in(client, runtime, "viewer@example.org", Role.VIEWER)
    assert client.get(f"/admin/campaigns/{draft.uid}").status_code == 200
    for action in ("send", "test", "pause", "clone", "delete"):
        assert post(client, f"/admin/campaigns/{draft.uid}/{action}",
                    {"confirm": "send", "addresses": "a@example.org"},
                    page="/admin/campaigns").status_code == 403, action
