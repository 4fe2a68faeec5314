"""Double opt-in: the confirmation link."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.web.public.conftest import (
    Lists,
    confirmation_link,
    count,
    post_signup,
    subscriber_id,
    subscription_status,
)
from tidings.bootstrap import Runtime
from tidings.db import consents, tables
from tidings.mail import links
from tidings.mail.tokens import Purpose
from tidings.services import preferences

pytestmark = pytest.mark.usefixtures("readers_lists")


def test_get_shows_a_button_and_changes_nothing(client: TestClient, runtime: Runtime,
                                                readers_lists: Lists) -> None:
    post_signup(client, runtime, "ann@example.com", "daily")
    link = confirmation_link(runtime, "ann@example.com")
    for _ in range(3):
        page = client.get(link)
        assert page.status_code == 200
        assert f'<form method="post" action="{link}">' in page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "same-origin"
    assert subscription_status(runtime, "ann@example.com", readers_lists.daily.id) == \
        "unconfirmed"


def test_post_confirms_once_then_answers_gone(client: TestClient, runtime: Runtime,
                                              readers_lists: Lists) -> None:
    post_signup(client, runtime, "ann@example.com", "daily", "weekly")
    link = confirmation_link(runtime, "ann@example.com")
    done = client.post(link, headers={"user-agent": "Mail Reader 3"})
    assert done.status_code == 200 and "You're subscribed" in done.text
    assert "/preferences/" in done.text
    assert subscription_status(runtime, "ann@example.com", readers_lists.daily.id) == \
        "confirmed"
    with runtime.db.read() as conn:
        records = consents.for_subscriber(conn, subscriber_id(runtime, "ann@example.com"))
    assert [r["action"] for r in records] == ["signup", "confirm"]
    confirm = records[1]
    assert confirm["list_ids"] == [readers_lists.daily.id]
    assert confirm["ip"] and confirm["user_agent"] == "Mail Reader 3"
    assert confirm["text_hash"] == records[0]["text_hash"]
    again = client.post(link)
    assert again.status_code == 410 and "Already confirmed" in again.text
    assert count(runtime, "consents") == 2
    assert client.get(link).status_code == 200  # a later look shows "already confirmed"


def test_confirming_never_revives_a_list_the_reader_left(client: TestClient,
                                                         runtime: Runtime,
                                                         readers_lists: Lists) -> None:
    post_signup(client, runtime, "ann@example.com", "daily")
    link = confirmation_link(runtime, "ann@example.com")
    preferences.unsubscribe(runtime.db, subscriber_id(runtime, "ann@example.com"), None,
                            source="page")
    assert client.post(link).status_code == 410
    assert subscription_status(runtime, "ann@example.com", readers_lists.daily.id) == \
        "unsubscribed"


def test_expired_link_is_gone_with_a_way_back(client: TestClient, runtime: Runtime,
                                              readers_lists: Lists) -> None:
    post_signup(client, runtime, "ann@example.com", "daily")
    current = confirmation_link(runtime, "ann@example.com")
    sid = subscriber_id(runtime, "ann@example.com")
    _, consent_id, _ = runtime.tokens.verify(Purpose.CONFIRM, current.rsplit("/", 1)[1],
                                             arity=3)
    old = links.confirm_url("", runtime.tokens, sid, consent_id,
                            now=time.time() - links.CONFIRM_MAX_AGE - 120)
    for method in (client.get, client.post):
        response = method(old)
        assert response.status_code == 410
        assert 'href="/subscribe"' in response.text and "expired" in response.text
    assert subscription_status(runtime, "ann@example.com", readers_lists.daily.id) == \
        "unconfirmed"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    lambda t: t[:10],
    lambda t: t + "x",
    lambda t: "x" * 300,
])
def test_forged_links_are_refused(client: TestClient, runtime: Runtime,
                                  readers_lists: Lists, mangle: object) -> None:
    post_signup(client, runtime, "ann@example.com", "daily")
    link = confirmation_link(runtime, "ann@example.com")
    bad = "/confirm/" + mangle(link.rsplit("/", 1)[1])  # type: ignore[operator]
    assert client.post(bad).status_code == 400
    assert client.get(bad).status_code == 400
    assert subscription_status(runtime, "ann@example.com", readers_lists.daily.id) == \
        "unconfirmed"


def test_other_purposes_are_not_confirmation_links(client: TestClient, runtime: Runtime,
                                                   readers_lists: Lists) -> None:
    post_signup(client, runtime, "ann@example.com", "daily")
    sid = subscriber_id(runtime, "ann@example.com")
    token = links.unsubscribe_token(runtime.tokens, sid, 1, 0)
    assert client.post(f"/confirm/{token}").status_code == 400
    assert subscription_status(runtime, "ann@example.com", readers_lists.daily.id) == \
        "unconfirmed"


def test_welcome_messages_are_queued_on_confirmation(client: TestClient, runtime: Runtime,
                                                     readers_lists: Lists) -> None:
    with runtime.db.write() as conn:
        conn.execute(update(tables.lists).values(welcome_subject="Welcome!",
                                                 welcome_body="Glad you are here."))
    post_signup(client, runtime, "ann@example.com", "daily", "weekly")
    # The single opt-in list welcomes at once; the double opt-in one after confirming.
    assert count(runtime, "outbox", "kind = 'welcome'") == 1
    client.post(confirmation_link(runtime, "ann@example.com"))
    with runtime.db.read() as conn:
        welcomes = conn.exec_driver_sql(
            "SELECT payload FROM outbox WHERE kind = 'welcome' ORDER BY id").all()
    assert len(welcomes) == 2
    payloads = [p[0] if isinstance(p[0], dict) else json.loads(p[0]) for p in welcomes]
    assert sorted(p["list_id"] for p in payloads) == sorted(
        [readers_lists.daily.id, readers_lists.weekly.id])


def test_resubscribing_after_leaving_needs_and_records_fresh_consent(
        client: TestClient, runtime: Runtime, readers_lists: Lists) -> None:
    post_signup(client, runtime, "ann@example.com", "weekly")
    sid = subscriber_id(runtime, "ann@example.com")
    preferences.unsubscribe(runtime.db, sid, None, source="page")
    post_signup(client, runtime, "ann@example.com", "weekly")
    assert subscription_status(runtime, "ann@example.com", readers_lists.weekly.id) == \
        "confirmed"
    with runtime.db.read() as conn:
        actions = [r["action"] for r in consents.for_subscriber(conn, sid)]
    assert actions == ["signup", "unsubscribe", "signup"]
