"""The API's campaigns, layouts and segments."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tidings.bootstrap import Runtime
from tidings.db.tables import outbox
from tidings.services import dkim_keys


def _setup(api: TestClient) -> None:
    api.post("/api/v1/lists", json={"slug": "daily", "name": "Daily", "optin": "single"})
    api.post("/api/v1/subscribers", json={"email": "r@example.org", "lists": ["daily"],
                                          "status": "confirmed"})


def test_a_campaign_goes_from_draft_to_sending(api: TestClient, runtime: Runtime) -> None:
    _setup(api)
    created = api.post("/api/v1/campaigns", json={
        "name": "Issue 1", "subject": "Hello", "body": "# News", "lists": ["daily"]})
    assert created.status_code == 201, created.text
    c = created.json()
    assert c["status"] == "draft" and c["lists"] == ["daily"] and c["template"]
    patched = api.patch(f"/api/v1/campaigns/{c['id']}", json={"subject": "Hello again"})
    assert patched.json()["subject"] == "Hello again" and patched.json()["lists"] == ["daily"]
    broken = api.patch(f"/api/v1/campaigns/{c['id']}", json={"body": "{{ nope("})
    assert broken.status_code == 422 and "line" in broken.json()["detail"]
    preview = api.get(f"/api/v1/campaigns/{c['id']}/preview").json()
    assert "News" in preview["html"] and any(h[0] == "Subject" for h in preview["headers"])
    assert api.post(f"/api/v1/campaigns/{c['id']}/test",
                    json={"addresses": ["me@example.org"]}).json() == {"queued": 1}
    with runtime.db.read() as conn:
        assert conn.execute(select(outbox.c.kind)).scalars().all() == ["test"]
    scheduled = api.post(f"/api/v1/campaigns/{c['id']}/schedule",
                         json={"at": "2099-01-01T08:00:00", "timezone": "Europe/Oslo"})
    assert scheduled.json()["status"] == "scheduled"
    assert scheduled.json()["scheduled_at"].startswith("2099-01-01T07:00")
    assert api.post(f"/api/v1/campaigns/{c['id']}/schedule",
                    json={"at": "0001-01-01T00:00:00"}).status_code == 422
    sent = api.post(f"/api/v1/campaigns/{c['id']}/send").json()
    assert sent["status"] == "running" and sent["total"] == 1
    stats = api.get(f"/api/v1/campaigns/{c['id']}/stats").json()
    assert stats["total"] == 1 and stats["status"] == "running"
    assert api.post(f"/api/v1/campaigns/{c['id']}/pause").json()["status"] == "paused"
    again = api.post(f"/api/v1/campaigns/{c['id']}/pause")
    assert again.status_code == 409 and again.json()["type"].endswith("InvalidTransition")
    assert api.delete(f"/api/v1/campaigns/{c['id']}").status_code == 409
    assert api.post(f"/api/v1/campaigns/{c['id']}/cancel").json()["status"] == "cancelled"
    copy = api.post(f"/api/v1/campaigns/{c['id']}/clone")
    assert copy.status_code == 201 and copy.json()["status"] == "draft"
    page = api.get("/api/v1/campaigns", params={"limit": 1}).json()
    assert len(page["data"]) == 1 and page["next_cursor"]
    rest = api.get("/api/v1/campaigns", params={"cursor": page["next_cursor"]}).json()
    assert [x["id"] for x in rest["data"]] == [c["id"]]


def test_layouts_and_segments(api: TestClient) -> None:
    _setup(api)
    api.post("/api/v1/campaigns", json={"name": "N", "subject": "S", "body": "B",
                                        "lists": ["daily"]})  # brings the default layout
    default = api.get("/api/v1/templates").json()["data"][0]
    assert default["is_default"]
    layout = api.post("/api/v1/templates", json={"name": "Plain", "body": default["body"]})
    assert layout.status_code == 201, layout.text
    made = api.post(f"/api/v1/templates/{layout.json()['id']}/default").json()
    assert made["is_default"] and made["name"] == "Plain"
    assert api.delete(f"/api/v1/templates/{default['id']}").status_code == 409  # in use
    assert api.post("/api/v1/templates", json={"name": "Bad", "body": "{% for %}"}
                    ).status_code == 422
    rule = {"all": [{"field": "list", "op": "confirmed", "value": "daily"}]}
    assert api.post("/api/v1/segments/count", json={"filter": rule}).json() == {"count": 1}
    created = api.post("/api/v1/segments", json={"name": "Daily", "filter": rule})
    assert created.status_code == 201
    unknown = api.post("/api/v1/segments", json={"name": "X", "filter": {"nope": 1}})
    assert unknown.status_code == 422
    uid = created.json()["id"]
    assert api.patch(f"/api/v1/segments/{uid}", json={"name": "Daily readers"}
                     ).json()["filter"] == rule
    assert api.delete(f"/api/v1/segments/{uid}").status_code == 204


def test_settings_never_show_dkim_private_keys(api: TestClient, runtime: Runtime) -> None:
    dkim_keys.generate(runtime.db, domain="example.org", selector="s1",
                       algorithm="ed25519-sha256", actor="test")
    shown = api.get("/api/v1/settings").json()
    assert shown["dkim.keys"] == [{"domain": "example.org", "selector": "s1",
                                   "algorithm": "ed25519-sha256"}]
    assert "private_key" not in str(shown)
    refused = api.patch("/api/v1/settings", json={"dkim.keys": []})
    assert refused.status_code == 422
