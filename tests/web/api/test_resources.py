"""The API's resources: lists, subscribers, subscriptions, bulk upsert, imports, settings."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.web.api.conftest import KeyMaker
from tidings.bootstrap import Runtime
from tidings.db.tables import consents, outbox
from tidings.domain.roles import Role
from tidings.services import api_keys


def test_lists_crud(api: TestClient) -> None:
    created = api.post("/api/v1/lists", json={"slug": "daily", "name": "Daily",
                                              "optin": "single"})
    assert created.status_code == 201
    body = created.json()
    assert body["slug"] == "daily" and body["members"] == {
        "confirmed": 0, "unconfirmed": 0, "unsubscribed": 0}
    assert api.post("/api/v1/lists", json={"slug": "daily", "name": "Again"}).status_code == 409
    bad = api.post("/api/v1/lists", json={"slug": "Bad Slug", "name": "X"})
    assert bad.status_code == 422 and bad.json()["field"] == "slug"
    unknown = api.post("/api/v1/lists", json={"slug": "x", "name": "X", "colour": "red"})
    assert unknown.status_code == 422
    patched = api.patch(f"/api/v1/lists/{body['id']}", json={"description": "Mornings"})
    assert patched.json()["description"] == "Mornings" and patched.json()["name"] == "Daily"
    assert [m["slug"] for m in api.get("/api/v1/lists").json()["data"]] == ["daily"]
    assert api.delete("/api/v1/lists/daily").status_code == 204
    missing = api.get("/api/v1/lists/daily")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_patching_a_subscriber_never_drops_subscriptions(api: TestClient) -> None:
    api.post("/api/v1/lists", json={"slug": "daily", "name": "Daily", "optin": "single"})
    api.post("/api/v1/lists", json={"slug": "weekly", "name": "Weekly"})
    created = api.post("/api/v1/subscribers", json={
        "email": "Ann@Example.org", "name": "Ann", "attributes": {"city": "Oslo"},
        "lists": ["daily", "weekly"], "status": "confirmed"})
    assert created.status_code == 201, created.text
    ann = created.json()
    assert {s["list"]: s["status"] for s in ann["subscriptions"]} == {
        "daily": "confirmed", "weekly": "confirmed"}
    # The listmonk bug: read, then write back what you read.
    fetched = api.get(f"/api/v1/subscribers/{ann['id']}").json()
    back = {"name": fetched["name"], "attributes": fetched["attributes"]}
    assert api.patch(f"/api/v1/subscribers/{ann['id']}", json=back).status_code == 200
    only_name = api.patch("/api/v1/subscribers/ann@example.org", json={"name": "Ann B."})
    assert only_name.json()["attributes"] == {"city": "Oslo"}
    assert len(only_name.json()["subscriptions"]) == 2
    refused = api.patch(f"/api/v1/subscribers/{ann['id']}",
                        json={"subscriptions": [], "name": "X"})
    assert refused.status_code == 422  # unknown fields are refused, not ignored
    final = api.get(f"/api/v1/subscribers/{ann['id']}").json()
    assert final["name"] == "Ann B." and len(final["subscriptions"]) == 2


def test_subscriptions_change_one_list_at_a_time(api: TestClient, runtime: Runtime) -> None:
    api.post("/api/v1/lists", json={"slug": "daily", "name": "Daily"})
    api.post("/api/v1/subscribers", json={"email": "bo@example.org"})
    put = api.put("/api/v1/subscribers/bo@example.org/subscriptions/daily",
                  json={"status": "unconfirmed"})
    assert put.status_code == 200 and put.json()["status"] == "unconfirmed"
    with runtime.db.read() as conn:
        assert conn.execute(select(outbox.c.kind)).scalars().all() == ["confirmation"]
    again = api.put("/api/v1/subscribers/bo@example.org/subscriptions/daily",
                    json={"status": "unconfirmed"})
    assert again.status_code == 200  # idempotent: no second email
    with runtime.db.read() as conn:
        assert len(conn.execute(select(outbox.c.kind)).all()) == 1
    gone = api.delete("/api/v1/subscribers/bo@example.org/subscriptions/daily")
    assert gone.json()["status"] == "unsubscribed"
    listed = api.get("/api/v1/subscribers/bo@example.org/subscriptions").json()
    assert [(s["list"], s["status"]) for s in listed] == [("daily", "unsubscribed")]
    with runtime.db.read() as conn:
        sources = conn.execute(select(consents.c.source, consents.c.api_key_id)).all()
    assert {s.source for s in sources} == {"api"} and all(s.api_key_id for s in sources)


def test_a_new_unconfirmed_subscriber_gets_the_confirmation(api: TestClient,
                                                            runtime: Runtime) -> None:
    api.post("/api/v1/lists", json={"slug": "daily", "name": "Daily"})  # double opt-in
    created = api.post("/api/v1/subscribers", json={"email": "cy@example.org",
                                                    "lists": ["daily"]})
    assert created.json()["subscriptions"][0]["status"] == "unconfirmed"
    with runtime.db.read() as conn:
        queued = conn.execute(select(outbox.c.kind, outbox.c.to_email)).all()
    assert [tuple(q) for q in queued] == [("confirmation", "cy@example.org")]


def test_subscribers_are_paged_with_an_opaque_cursor(api: TestClient) -> None:
    api.post("/api/v1/lists", json={"slug": "daily", "name": "Daily", "optin": "single"})
    bulk = api.post("/api/v1/subscribers/bulk", json={
        "lists": ["daily"], "status": "confirmed",
        "subscribers": [{"email": f"r{i:02}@example.org", "name": f"R {i}"}
                        for i in range(25)] + [{"email": "not-an-address"},
                                                {"email": "R01@example.org"}]})
    assert bulk.status_code == 200, bulk.text
    result = bulk.json()
    assert result["created"] == 25 and result["skipped"] == 2
    assert {p["index"] for p in result["problems"]} == {25, 26}
    seen, cursor = [], None
    while True:
        page = api.get("/api/v1/subscribers", params={"limit": 10, **(
            {"cursor": cursor} if cursor else {})}).json()
        seen += [s["email"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 25 == len(set(seen))
    filtered = api.get("/api/v1/subscribers", params={"q": "r1", "list": "daily",
                                                       "list_status": "confirmed"}).json()
    assert sorted(s["email"] for s in filtered["data"]) == [
        f"r1{i}@example.org" for i in range(10)]
    assert api.get("/api/v1/subscribers", params={"cursor": "!!"}).status_code == 422
    assert api.get("/api/v1/subscribers", params={"limit": 0}).status_code == 422
    update = api.post("/api/v1/subscribers/bulk", json={
        "lists": ["daily"], "subscribers": [{"email": "r03@example.org", "name": "Third"}]})
    assert update.json()["updated"] == 1
    assert api.get("/api/v1/subscribers/r03@example.org").json()["name"] == "Third"


def test_imports_run_as_jobs_with_progress(api: TestClient) -> None:
    api.post("/api/v1/lists", json={"slug": "daily", "name": "Daily"})
    csv = "email,name\n" + "".join(f"i{i}@example.org,Reader {i}\n" for i in range(50))
    started = api.post("/api/v1/imports", files={"file": ("readers.csv", csv, "text/csv")},
                       data={"lists": ["daily"], "status": "confirmed"})
    assert started.status_code == 202, started.text
    job = started.json()
    deadline = time.monotonic() + 30
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
        job = api.get(f"/api/v1/imports/{job['id']}").json()
    assert job["status"] == "finished" and job["imported"] == 50 and job["fraction"] == 1.0
    assert api.get("/api/v1/lists/daily").json()["members"]["confirmed"] == 50
    assert api.post("/api/v1/imports", files={"file": ("x.csv", "email\n", "text/csv")},
                    data={"lists": ["nope"]}).status_code == 404


def test_settings_are_read_and_changed_all_or_nothing(api: TestClient) -> None:
    values = api.get("/api/v1/settings").json()
    assert "publisher.name" in values and "setup.completed" not in values
    refused = api.patch("/api/v1/settings", json={"publisher.name": "Gazette",
                                                  "signup.min_fill_seconds": "nan"})
    assert refused.status_code == 422
    assert api.get("/api/v1/settings").json()["publisher.name"] != "Gazette"
    assert api.patch("/api/v1/settings", json={"setup.completed": False}).status_code == 422
    ok = api.patch("/api/v1/settings", json={"publisher.name": "Gazette"})
    assert ok.status_code == 200 and ok.json()["publisher.name"] == "Gazette"


def test_revoked_keys_stop_working_at_once(client: TestClient, key_for: KeyMaker,
                                           runtime: Runtime) -> None:
    headers = key_for(Role.EDITOR)
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["role"] == "editor" and "send" in me["permissions"] and "admin" not in \
        me["permissions"]
    key = next(k for k in api_keys.all_keys(runtime.db) if k.prefix == me["prefix"])
    from tidings.services import team

    owner = team.all_users(runtime.db)[0]
    api_keys.revoke(runtime.db, key.uid, actor=owner)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_nasty_input_is_refused_not_crashed_on(api: TestClient) -> None:
    api.post("/api/v1/lists", json={"slug": "daily", "name": "Daily"})
    for body in ({"email": "a@example.org", "attributes": {"x": "nul\u0000here"}},
                 {"email": "a@example.org\r\nBcc: x@example.org"},
                 {"email": "a@example.org", "name": "line\nbreak"},
                 {"email": "a@example.org", "lists": ["\u0000"]}):
        response = api.post("/api/v1/subscribers", json=body)
        assert response.status_code in (404, 422), (body, response.text)
    for query in ("a\U0010ffff", "%", "_", "\u00e9"):
        assert api.get("/api/v1/subscribers", params={"q": query}).status_code == 200, query
    for ref in ("99999999999999999999999", "%C2%B2", "%00"):
        assert api.get(f"/api/v1/lists/{ref}").status_code in (404, 422), ref
        assert api.get(f"/api/v1/subscribers/{ref}").status_code in (404, 422), ref
