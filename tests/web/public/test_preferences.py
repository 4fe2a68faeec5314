"""The preference centre: lists, name, leaving, CSRF, and the data rights."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text

from tests.web.public.conftest import (
    Lists,
    count,
    hidden,
    post_signup,
    preferences_path,
    subscription_status,
)
from tidings.bootstrap import Runtime
from tidings.db import consents, tables
from tidings.domain.errors import Suppressed
from tidings.domain.timezones import utcnow
from tidings.services import campaigns, data_rights, subscribers

ADDRESS = "Ann.Reader@Example.com"


@pytest.fixture
def reader(runtime: Runtime, readers_lists: Lists) -> int:
    return subscribers.add(runtime.db, email=ADDRESS, name="Ann", lists=["daily", "vip"],
                           preconfirmed=True, consent_text="I agree.", ip="192.0.2.7").id


def form_of(client: TestClient, path: str) -> dict[str, str]:
    html = client.get(path).text
    return {"csrf": hidden(html, "csrf"), "consent_hash": hidden(html, "consent_hash")}


def test_page_shows_public_lists_and_private_ones_the_reader_is_on(
        client: TestClient, runtime: Runtime, readers_lists: Lists, reader: int) -> None:
    response = client.get(preferences_path(runtime, reader))
    assert response.status_code == 200
    html = response.text
    assert "ann.reader@example.com".lower() in html.lower()
    for mailing_list in (readers_lists.daily, readers_lists.weekly, readers_lists.vip):
        assert mailing_list.name in html
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_saving_changes_lists_and_name_with_consent_records(
        client: TestClient, runtime: Runtime, readers_lists: Lists, reader: int) -> None:
    path = preferences_path(runtime, reader)
    fields = form_of(client, path)
    response = client.post(path, data={**fields, "lists": [readers_lists.weekly.uid],
                                       "name": "Ann R."}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("?done=saved")
    assert "Your preferences are saved." in client.get(response.headers["location"]).text
    assert subscription_status(runtime, ADDRESS, readers_lists.weekly.id) == "confirmed"
    assert subscription_status(runtime, ADDRESS, readers_lists.daily.id) == "unsubscribed"
    assert subscription_status(runtime, ADDRESS, readers_lists.vip.id) == "unsubscribed"
    assert subscribers.get(runtime.db, ADDRESS).name == "Ann R."
    with runtime.db.read() as conn:
        records = consents.for_subscriber(conn, reader)
    change, leave = records[-2:]
    assert (change["action"], change["source"], change["list_ids"]) == (
        "change", "preferences", [readers_lists.weekly.id])
    assert change["text"] and consents.text_hash(change["text"]) == change["text_hash"]
    assert change["text_hash"] == fields["consent_hash"]
    assert (leave["action"], sorted(leave["list_ids"])) == (
        "unsubscribe", sorted([readers_lists.daily.id, readers_lists.vip.id]))
    # A private list once left is no longer offered, and cannot be forced back.
    again = client.post(path, data={**form_of(client, path),
                                    "lists": [readers_lists.vip.uid]})
    assert again.status_code == 422
    assert subscription_status(runtime, ADDRESS, readers_lists.vip.id) == "unsubscribed"


@pytest.mark.parametrize("case", ["missing", "forged", "other-reader", "cross-site"])
def test_forms_need_a_csrf_token_of_this_page(client: TestClient, runtime: Runtime,
                                              readers_lists: Lists, reader: int,
                                              case: str) -> None:
    path = preferences_path(runtime, reader)
    fields = form_of(client, path)
    headers = {}
    if case == "missing":
        del fields["csrf"]
    elif case == "forged":
        fields["csrf"] = fields["csrf"][:-2] + "AA"
    elif case == "other-reader":
        other = subscribers.add(runtime.db, email="bob@example.com").id
        fields["csrf"] = form_of(client, preferences_path(runtime, other))["csrf"]
    else:
        headers["origin"] = "https://evil.example.com"
    for action in ("", "/leave", "/export", "/erase"):
        response = client.post(path + action, data={**fields, "lists": [], "confirm": "erase"},
                               headers=headers, follow_redirects=False)
        assert response.status_code == 403, action
    assert subscription_status(runtime, ADDRESS, readers_lists.daily.id) == "confirmed"
    assert count(runtime, "subscribers", f"id = {reader}") == 1


def test_leave_everything(client: TestClient, runtime: Runtime, readers_lists: Lists,
                          reader: int) -> None:
    path = preferences_path(runtime, reader)
    response = client.post(path + "/leave", data=form_of(client, path), follow_redirects=False)
    assert response.status_code == 303
    assert subscription_status(runtime, ADDRESS, readers_lists.daily.id) == "unsubscribed"
    assert subscription_status(runtime, ADDRESS, readers_lists.vip.id) == "unsubscribed"


def _history(runtime: Runtime, reader: int) -> None:
    """A delivery, a bounce and a queued message, as the engine and intake would leave."""
    campaign = campaigns.create(runtime.db, name="Issue 1", subject="Hello readers",
                                body="Hi", lists=["daily"])
    now = utcnow()
    with runtime.db.write() as conn:
        conn.execute(insert(tables.deliveries).values(
            campaign_id=campaign.id, subscriber_id=reader, status="sent", attempts=1,
            updated_at=now, sent_at=now))
        conn.execute(insert(tables.bounces).values(
            subscriber_id=reader, campaign_id=campaign.id, kind="soft", source="dsn",
            status_code="4.2.2", diagnostic="mailbox full", created_at=now))
        conn.execute(insert(tables.outbox).values(
            kind="welcome", to_email=ADDRESS.upper(), subscriber_id=None, payload={},
            status="sent", attempts=1, next_attempt_at=now, created_at=now))


def test_export_holds_everything_about_the_reader(client: TestClient, runtime: Runtime,
                                                  readers_lists: Lists, reader: int) -> None:
    _history(runtime, reader)
    path = preferences_path(runtime, reader)
    response = client.post(path + "/export", data=form_of(client, path))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    data = json.loads(response.content)
    assert data["profile"]["email"] == "Ann.Reader@example.com"
    assert data["profile"]["name"] == "Ann"
    assert {s["list"]: s["status"] for s in data["subscriptions"]} == {
        "The Daily Brief": "confirmed", "Insiders": "confirmed"}
    (consent,) = data["consents"]
    assert consent["text"] == "I agree." and consent["ip"] == "192.0.2.7"
    assert consent["lists"] == ["The Daily Brief", "Insiders"]
    assert [d["subject"] for d in data["deliveries"]] == ["Hello readers"]
    assert data["bounces"][0]["diagnostic"] == "mailbox full"
    assert [m["kind"] for m in data["messages"]] == ["welcome"]


def _tables_mentioning(runtime: Runtime, needle: str) -> list[str]:
    found = []
    with runtime.db.read() as conn:
        for table in tables.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                if needle.lower() in repr(tuple(row)).lower():
                    found.append(table.name)
                    break
    return found


def test_erase_takes_two_steps_and_leaves_no_trace(client: TestClient, runtime: Runtime,
                                                   readers_lists: Lists,
                                                   reader: int) -> None:
    _history(runtime, reader)
    path = preferences_path(runtime, reader)
    assert _tables_mentioning(runtime, ADDRESS)  # the check can see the address
    step_one = client.get(path + "/erase")
    assert step_one.status_code == 200 and "It cannot" in step_one.text
    fields = {"csrf": hidden(step_one.text, "csrf")}
    unconfirmed = client.post(path + "/erase", data=fields)
    assert unconfirmed.status_code == 422
    assert count(runtime, "subscribers") == 1
    done = client.post(path + "/erase", data={**fields, "confirm": "erase"})
    assert done.status_code == 200 and "Your data is erased" in done.text
    assert _tables_mentioning(runtime, ADDRESS) == []
    assert _tables_mentioning(runtime, "192.0.2.7") == []
    for table in ("subscribers", "subscriptions", "consents", "deliveries", "bounces",
                  "outbox"):
        assert count(runtime, table) == 0, table
    assert count(runtime, "suppressions", "reason = 'erased'") == 1
    # Neither a signup nor an import brings the address back.
    signup = post_signup(client, runtime, ADDRESS.lower(), "daily")
    assert signup.status_code == 200 and "Check your inbox" in signup.text
    with pytest.raises(Suppressed):
        subscribers.add(runtime.db, email=ADDRESS.upper(), lists=["daily"])
    assert count(runtime, "subscribers") == 0 and count(runtime, "outbox") == 0
    # The links in old mail lead nowhere, and ids are never handed to someone else.
    assert client.get(path).status_code == 410
    assert client.post(path + "/export", data=fields).status_code == 410
    newcomer = subscribers.add(runtime.db, email="new@example.com")
    assert newcomer.id != reader


def test_erase_is_recorded_without_the_address(runtime: Runtime, reader: int) -> None:
    assert data_rights.erase(runtime.db, reader) is True
    assert data_rights.erase(runtime.db, reader) is False
    with runtime.db.read() as conn:
        kinds = [r[0] for r in conn.execute(text("SELECT kind FROM events"))]
    assert "subscriber.erased" in kinds


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    lambda t: t[:4],
    lambda t: "x" * 250,
])
def test_forged_preference_links_show_nothing_and_change_nothing(
        client: TestClient, runtime: Runtime, readers_lists: Lists, reader: int,
        mangle: object) -> None:
    path = preferences_path(runtime, reader)
    fields = form_of(client, path)
    bad = "/preferences/" + mangle(path.rsplit("/", 1)[1])  # type: ignore[operator]
    page = client.get(bad)
    assert page.status_code == 400 and ADDRESS.lower() not in page.text.lower()
    for action in ("", "/leave", "/export", "/erase"):
        response = client.post(bad + action, data={**fields, "confirm": "erase"})
        assert response.status_code == 400, action
    assert subscription_status(runtime, ADDRESS, readers_lists.daily.id) == "confirmed"
    assert count(runtime, "subscribers") == 1
