"""The hosted signup page and its form posts (no JavaScript: plain HTTP)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.web.public.conftest import (
    Lists,
    count,
    form_token,
    hidden,
    post_signup,
    set_settings,
    signup_form,
    subscription_status,
)
from tidings.bootstrap import Runtime
from tidings.db import consents
from tidings.services import signups

pytestmark = pytest.mark.usefixtures("readers_lists")


def test_page_offers_public_lists_with_nothing_ticked(client: TestClient,
                                                      readers_lists: Lists) -> None:
    response = client.get("/subscribe")
    assert response.status_code == 200
    html = response.text
    assert "Sign up to our free newsletters" in html
    assert "Get the best updates straight to your inbox:" in html
    assert readers_lists.daily.name in html and "Every morning at seven." in html
    assert readers_lists.weekly.name in html
    assert readers_lists.vip.name not in html and readers_lists.vip.uid not in html
    assert " checked" not in html
    assert "You can unsubscribe at any time by clicking the link in the footer" in html
    assert "is not transferred to a third-party marketing platform" in html
    assert re.search(r"<legend>[^<]+</legend>", html)
    assert 'autocomplete="email"' in html and 'for="tidings-email"' in html
    assert "frame-ancestors" in response.headers["content-security-policy"]


def test_list_page_preselects_that_list(client: TestClient, readers_lists: Lists) -> None:
    html = client.get("/subscribe/weekly").text
    ticked = re.findall(r'value="([^"]+)"[^>]*\bchecked', html)
    assert ticked == [readers_lists.weekly.uid]
    assert client.get("/subscribe/vip").status_code == 404
    assert client.get("/subscribe/nothing").status_code == 404


def test_no_list_ticked_is_refused_and_keeps_what_was_typed(client: TestClient,
                                                          runtime: Runtime) -> None:
    response = post_signup(client, runtime, "ann@example.com", name="Ann Example")
    assert response.status_code == 422
    html = response.text
    assert re.search(r'role="alert"[^>]*>Please select at least one mailing list\.</p>', html)
    assert 'value="ann@example.com"' in html and 'value="Ann Example"' in html
    assert 'aria-invalid="true"' in html
    assert count(runtime, "subscribers") == 0 and count(runtime, "outbox") == 0


def test_double_optin_signup_records_consent_and_queues_confirmation(
        client: TestClient, runtime: Runtime, readers_lists: Lists) -> None:
    response = post_signup(client, runtime, "Ann@Example.com", readers_lists.daily.uid,
                           "weekly", name="Ann", headers={"user-agent": "Test Browser 1.0"})
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    assert subscription_status(runtime, "ann@example.com", readers_lists.daily.id) == \
        "unconfirmed"
    assert subscription_status(runtime, "ann@example.com", readers_lists.weekly.id) == \
        "confirmed"
    with runtime.db.read() as conn:
        records = consents.for_subscriber(conn, 1)
        queued = conn.exec_driver_sql("SELECT kind, to_email, payload FROM outbox").all()
    assert len(records) == 1
    record = records[0]
    shown = signups.current_consent_text(runtime.db)
    assert (record["action"], record["source"]) == ("signup", "form")
    assert record["list_ids"] == [readers_lists.daily.id, readers_lists.weekly.id]
    assert record["ip"] and record["created_at"] is not None
    assert record["text"] == shown and consents.text_hash(shown) == record["text_hash"]
    assert len(queued) == 1 and queued[0][0] == "confirmation"
    assert queued[0][1] == "Ann@example.com"


def test_user_agent_is_recorded(client: TestClient, runtime: Runtime) -> None:
    client.post("/subscribe", data=signup_form(runtime, "ua@example.com", "daily"),
                headers={"user-agent": "Reader/2.0"})
    with runtime.db.read() as conn:
        assert consents.for_subscriber(conn, 1)[0]["user_agent"] == "Reader/2.0"


def test_single_optin_signup_says_subscribed(client: TestClient, runtime: Runtime) -> None:
    response = post_signup(client, runtime, "bob@example.com", "weekly")
    assert response.status_code == 200 and "You're subscribed" in response.text
    assert count(runtime, "outbox") == 0


@pytest.mark.parametrize("ref", ["vip", "uid", "id"])
def test_private_lists_are_refused_even_by_id(client: TestClient, runtime: Runtime,
                                              readers_lists: Lists, ref: str) -> None:
    value = {"vip": "vip", "uid": readers_lists.vip.uid, "id": str(readers_lists.vip.id)}[ref]
    response = post_signup(client, runtime, "eve@example.com", "daily", value)
    assert response.status_code == 422
    assert "That newsletter is not available." in response.text
    assert count(runtime, "subscribers") == 0


def test_unknown_list_and_bad_address_are_refused(client: TestClient, runtime: Runtime) -> None:
    assert post_signup(client, runtime, "x@example.com", "nope").status_code == 422
    response = post_signup(client, runtime, "x@example.com\r\nBcc: y@example.org", "daily")
    assert response.status_code == 422 and 'aria-invalid="true"' in response.text
    assert count(runtime, "subscribers") == 0


def test_the_answer_is_the_same_whatever_is_known_about_the_address(
        client: TestClient, runtime: Runtime, readers_lists: Lists) -> None:
    from tidings.services import data_rights, preferences, subscribers

    subscribers.add(runtime.db, email="confirmed@example.com", lists=["daily"],
                    preconfirmed=True, consent_text="ok")
    subscribers.add(runtime.db, email="left@example.com", lists=["daily"], consent_text="ok")
    preferences.unsubscribe(runtime.db, subscribers.get(runtime.db, "left@example.com").id,
                            None, source="page")
    subscribers.add(runtime.db, email="erased@example.com", lists=["daily"], consent_text="ok")
    data_rights.erase(runtime.db, subscribers.get(runtime.db, "erased@example.com").id)
    post_signup(client, runtime, "pending@example.com", "daily")
    bodies = set()
    for address in ("new@example.com", "pending@example.com", "confirmed@example.com",
                    "left@example.com", "erased@example.com"):
        response = post_signup(client, runtime, address, "daily")
        assert response.status_code == 200
        bodies.add(response.text)
    assert len(bodies) == 1


def test_repeated_signups_send_at_most_the_daily_cap(client: TestClient,
                                                     runtime: Runtime) -> None:
    set_settings(runtime, **{"signup.confirmations_per_day": 2})
    bodies = {post_signup(client, runtime, "bomb@example.com", "daily").text for _ in range(5)}
    assert len(bodies) == 1
    assert count(runtime, "outbox", "kind = 'confirmation'") == 2
    assert count(runtime, "subscribers") == 1


def test_honeypot_and_fast_forms_are_answered_but_stored_nowhere(
        client: TestClient, runtime: Runtime) -> None:
    normal = post_signup(client, runtime, "honey@example.com", "daily", website="http://spam")
    fields = signup_form(runtime, "fast@example.com", "daily")
    fields["ts"] = form_token(runtime, age=0.5)
    fast = client.post("/subscribe", data=fields)
    reference = post_signup(client, runtime, "real@example.com", "daily")
    assert normal.status_code == fast.status_code == 200
    assert normal.text == fast.text == reference.text
    assert count(runtime, "subscribers") == 1
    assert count(runtime, "outbox") == 1


@pytest.mark.parametrize("token", [None, "forged-token", "old"])
def test_forms_without_a_genuine_render_time_are_shown_again(
        client: TestClient, runtime: Runtime, readers_lists: Lists, token: str | None) -> None:
    fields = signup_form(runtime, "late@example.com", "daily", name="Late")
    if token is None:
        del fields["ts"]
    else:
        fields["ts"] = form_token(runtime, age=2 * 86400) if token == "old" else token
    response = client.post("/subscribe", data=fields)
    assert response.status_code == 200
    assert "Almost done" in response.text
    assert 'value="late@example.com"' in response.text and 'value="Late"' in response.text
    assert re.search(rf'value="{readers_lists.daily.uid}"[^>]*checked', response.text)
    assert hidden(response.text, "ts") not in ("", fields.get("ts"))
    assert count(runtime, "subscribers") == 0


def test_ip_limit_answers_429_with_retry_after(client: TestClient, runtime: Runtime) -> None:
    set_settings(runtime, **{"signup.ip_limit": 3})
    statuses = [post_signup(client, runtime, f"r{i}@example.com", "daily").status_code
                for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = post_signup(client, runtime, "r9@example.com", "daily")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert count(runtime, "subscribers") == 3


def test_ip_limit_zero_turns_it_off(client: TestClient, runtime: Runtime) -> None:
    set_settings(runtime, **{"signup.ip_limit": 0})
    for i in range(25):
        assert post_signup(client, runtime, f"n{i}@example.com", "weekly").status_code == 200
    assert count(runtime, "subscribers") == 25


def test_address_limit_is_quiet(client: TestClient, runtime: Runtime) -> None:
    set_settings(runtime, **{"signup.address_limit": 2, "signup.confirmations_per_day": 10})
    bodies = {post_signup(client, runtime, "same@example.com", "daily").text for _ in range(4)}
    assert len(bodies) == 1
    assert count(runtime, "consents") == 2 and count(runtime, "outbox") == 2


def test_stale_consent_hash_is_refused(client: TestClient, runtime: Runtime) -> None:
    response = post_signup(client, runtime, "old@example.com", "daily",
                           consent_hash="0" * 64)
    assert response.status_code == 422 and "out of date" in response.text
    assert count(runtime, "subscribers") == 0


def test_a_changed_consent_text_is_recorded_as_shown(client: TestClient,
                                                     runtime: Runtime) -> None:
    before = signup_form(runtime, "first@example.com", "daily")
    set_settings(runtime, **{"consent.text": "New words from {publisher}."})
    runtime.db.cache.clear()
    client.post("/subscribe", data=before)
    after = client.get("/subscribe").text
    assert "New words from Tidings." in after
    client.post("/subscribe", data={**signup_form(runtime, "second@example.com", "daily"),
                                    "consent_hash": hidden(after, "consent_hash")})
    with runtime.db.read() as conn:
        first = consents.for_subscriber(conn, 1)[0]
        second = consents.for_subscriber(conn, 2)[0]
    assert "third-party marketing platform" in first["text"]
    assert second["text"] == "New words from Tidings."
    assert consents.text_hash(second["text"]) == second["text_hash"]


def allow_site(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"cors_origins": ("https://www.example.org",)})


def test_embed_post_returns_to_the_publishers_page(client: TestClient,
                                                   runtime: Runtime) -> None:
    allow_site(runtime)
    fields = signup_form(runtime, "emb@example.com", "daily", source="embed")
    page = "https://www.example.org/2026/11/kerry-putin?ref=a"
    response = client.post("/subscribe", data=fields, headers={"referer": page},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == page + "#tidings-check-inbox"
    with runtime.db.read() as conn:
        assert consents.for_subscriber(conn, 1)[0]["source"] == "embed"
    # Without JavaScript there is no render time: the hosted page finishes the job.
    del fields["ts"]
    fields["email"] = "nojs@example.com"
    shown = client.post("/subscribe", data=fields, headers={"referer": page})
    assert "Almost done" in shown.text
    assert hidden(shown.text, "return_to") == page.replace("&", "&amp;")
    assert count(runtime, "subscribers") == 1


@pytest.mark.parametrize("target", [
    "https://evil.example.com/",
    "//evil.example.com/",
    "https://www.example.org@evil.example.com/",
    "https://evil.example.com\\@www.example.org/",
    "https:/\\evil.example.com",
    "javascript:alert(1)//https://www.example.org/",
    "https://www.example.org.evil.example.com/",
    "http://www.example.org:8080/",
    "https://www.example.org/\r\nSet-Cookie: x=1",
    "/relative/path",
])
def test_open_redirects_are_refused(client: TestClient, runtime: Runtime,
                                    target: str) -> None:
    allow_site(runtime)
    fields = signup_form(runtime, "r@example.com", "daily", return_to=target, source="embed")
    response = client.post("/subscribe", data=fields, headers={"referer": target},
                           follow_redirects=False)
    assert response.status_code == 200 and "location" not in response.headers
    assert "Check your inbox" in response.text


def test_encoded_line_breaks_stay_encoded(client: TestClient, runtime: Runtime) -> None:
    allow_site(runtime)
    target = "https://www.example.org/a%0d%0aLocation:%20https://evil.example.com"
    fields = signup_form(runtime, "r@example.com", "daily", return_to=target)
    response = client.post("/subscribe", data=fields, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == target + "#tidings-check-inbox"


def test_return_to_on_tidings_itself_is_allowed(client: TestClient, runtime: Runtime) -> None:
    fields = signup_form(runtime, "home@example.com", "weekly",
                         return_to="https://news.example.org/archive")
    response = client.post("/subscribe", data=fields, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "https://news.example.org/archive#tidings-subscribed"


def test_oversized_form_is_refused(client: TestClient, runtime: Runtime) -> None:
    fields = signup_form(runtime, "big@example.com", "daily", name="x" * 70000)
    assert client.post("/subscribe", data=fields).status_code == 413
    body = "email=" + quote("a@example.com") + "&lists=daily" * 300
    response = client.post("/subscribe", content=body,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code in (413, 422)
    assert count(runtime, "subscribers") == 0


def test_altcha_when_required(client: TestClient, runtime: Runtime) -> None:
    import altcha

    set_settings(runtime, **{"signup.altcha": True})
    page = client.get("/subscribe").text
    assert 'data-tidings-altcha="/api/public/altcha"' in page
    missing = post_signup(client, runtime, "pow@example.com", "daily")
    assert missing.status_code == 422 and "spam check" in missing.text
    challenge = altcha.Challenge.from_dict(client.get("/api/public/altcha").json())
    solution = altcha.solve_challenge(challenge)
    assert solution is not None
    payload = altcha.Payload(challenge, solution).to_base64()
    assert post_signup(client, runtime, "pow@example.com", "daily",
                       altcha=payload).status_code == 200
    replay = post_signup(client, runtime, "pow2@example.com", "daily", altcha=payload)
    assert replay.status_code == 422
    assert count(runtime, "subscribers") == 1


def test_page_without_public_lists(client: TestClient, runtime: Runtime,
                                   readers_lists: Lists) -> None:
    from tidings.domain.lists import Visibility
    from tidings.services import lists

    for mailing_list in (readers_lists.daily, readers_lists.weekly):
        lists.update(runtime.db, mailing_list.slug, visibility=Visibility.PRIVATE)
    page = client.get("/subscribe")
    assert page.status_code == 200 and "no newsletters to sign up to" in page.text
    assert post_signup(client, runtime, "a@example.com", "daily").status_code == 422
    assert count(runtime, "subscribers") == 0
