"""``/api/public/*``: the JSON signup endpoint, its form data, and CORS."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.public.conftest import Lists, count, form_token
from tidings.bootstrap import Runtime
from tidings.db import consents

pytestmark = pytest.mark.usefixtures("readers_lists")

SITE = "https://www.example.org"


@pytest.fixture(autouse=True)
def allowed_site(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"cors_origins": (SITE,)})


def body(runtime: Runtime, email: str = "ann@example.com", **extra: Any) -> dict[str, Any]:
    return {"email": email, "name": "Ann", "lists": ["daily"], "consent": True,
            "form_token": form_token(runtime), **extra}


def test_signup_as_json_from_the_publishers_site(client: TestClient, runtime: Runtime,
                                                 readers_lists: Lists) -> None:
    response = client.post("/api/public/subscriptions",
                           json=body(runtime, lists=[readers_lists.daily.uid, "weekly"]),
                           headers={"origin": SITE})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SITE
    assert "Origin" in response.headers["vary"]
    answer = response.json()
    assert answer["status"] == "pending"
    assert [x["id"] for x in answer["lists"]] == [readers_lists.daily.uid,
                                                  readers_lists.weekly.uid]
    with runtime.db.read() as conn:
        record = consents.for_subscriber(conn, 1)[0]
    assert record["source"] == "embed" and record["text"]
    assert count(runtime, "outbox", "kind = 'confirmation'") == 1


def test_server_side_calls_without_origin_are_source_api(client: TestClient,
                                                         runtime: Runtime) -> None:
    response = client.post("/api/public/subscriptions", json=body(runtime, lists=["weekly"]))
    assert response.status_code == 200 and response.json()["status"] == "subscribed"
    assert "access-control-allow-origin" not in response.headers
    with runtime.db.read() as conn:
        assert consents.for_subscriber(conn, 1)[0]["source"] == "api"


def test_other_origins_are_refused_before_anything_happens(client: TestClient,
                                                           runtime: Runtime) -> None:
    for origin in ("https://evil.example.com", "null", "https://www.example.org.evil.com",
                   "http://www.example.org"):
        response = client.post("/api/public/subscriptions", json=body(runtime),
                               headers={"origin": origin})
        assert response.status_code == 403, origin
        assert response.headers["content-type"] == "application/problem+json"
        assert "access-control-allow-origin" not in response.headers
    # A "simple" cross-site request that skips the preflight is refused as well.
    sneaky = client.post("/api/public/subscriptions", content=b'{"email": "a@example.com"}',
                         headers={"origin": "https://evil.example.com",
                                  "content-type": "text/plain"})
    assert sneaky.status_code == 415
    assert count(runtime, "subscribers") == 0


def test_preflight(client: TestClient) -> None:
    allowed = client.options("/api/public/subscriptions", headers={
        "origin": SITE, "access-control-request-method": "POST",
        "access-control-request-headers": "content-type"})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == SITE
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "Content-Type" in allowed.headers["access-control-allow-headers"]
    refused = client.options("/api/public/subscriptions", headers={
        "origin": "https://evil.example.com", "access-control-request-method": "POST"})
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


def test_form_data_for_embedded_forms(client: TestClient, runtime: Runtime,
                                      readers_lists: Lists) -> None:
    response = client.get("/api/public/form", headers={"origin": SITE})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SITE
    data = response.json()
    assert {x["slug"] for x in data["lists"]} == {"daily", "weekly"}
    assert data["altcha"] is None and data["form_token"]
    assert consents.text_hash(data["consent_text"]) == data["consent_hash"]
    assert client.get("/api/public/form",
                      headers={"origin": "https://evil.example.com"}).status_code == 403


@pytest.mark.parametrize(("change", "field"), [
    ({"lists": []}, "lists"),
    ({"lists": "daily"}, "lists"),
    ({"lists": ["vip"]}, "lists"),
    ({"email": "not an address"}, "email"),
    ({"email": None}, "email"),
    ({"consent": False}, "consent"),
    ({"consent": "yes"}, "consent"),
    ({"form_token": None}, "form_token"),
    ({"form_token": "forged"}, "form_token"),
    ({"name": {"x": 1}}, "name"),
    ({"name": "Ann\r\nBcc: x@example.org"}, "name"),
    ({"consent_hash": "f" * 64}, "consent_hash"),
])
def test_bad_input_is_a_problem_and_stores_nothing(client: TestClient, runtime: Runtime,
                                                   change: dict[str, Any], field: str) -> None:
    response = client.post("/api/public/subscriptions", json={**body(runtime), **change},
                           headers={"origin": SITE})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["access-control-allow-origin"] == SITE
    problem = response.json()
    assert problem["status"] == 422 and problem["field"] == field and problem["detail"]
    assert count(runtime, "subscribers") == 0


def test_malformed_bodies(client: TestClient, runtime: Runtime) -> None:
    for content in (b"{", b"[]", b"\xff\xfe", b'"text"'):
        response = client.post("/api/public/subscriptions", content=content,
                               headers={"content-type": "application/json"})
        assert response.status_code == 422, content
    huge = client.post("/api/public/subscriptions", content=b" " * 20000,
                       headers={"content-type": "application/json"})
    assert huge.status_code == 413
    assert count(runtime, "subscribers") == 0


def test_same_answer_for_known_and_unknown_addresses(client: TestClient,
                                                     runtime: Runtime) -> None:
    first = client.post("/api/public/subscriptions", json=body(runtime))
    again = client.post("/api/public/subscriptions", json=body(runtime))
    other = client.post("/api/public/subscriptions", json=body(runtime, "zed@example.com"))
    assert first.content == again.content == other.content


def test_honeypot_and_speed(client: TestClient, runtime: Runtime) -> None:
    bot = client.post("/api/public/subscriptions", json=body(runtime, website="x"))
    fast = client.post("/api/public/subscriptions",
                       json=body(runtime, form_token=form_token(runtime, age=0)))
    assert bot.status_code == fast.status_code == 200
    assert bot.json() == fast.json()
    assert count(runtime, "subscribers") == 0


def test_ip_limit_is_a_429_problem(client: TestClient, runtime: Runtime) -> None:
    from tidings.services import runtime_settings

    runtime_settings.update(runtime.db, {"signup.ip_limit": 1})
    assert client.post("/api/public/subscriptions", json=body(runtime)).status_code == 200
    refused = client.post("/api/public/subscriptions", json=body(runtime, "b@example.com"),
                          headers={"origin": SITE})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["access-control-allow-origin"] == SITE
    assert refused.json()["status"] == 429
