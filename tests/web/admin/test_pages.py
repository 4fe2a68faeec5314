"""Admin pages: lists, subscribers, settings, team, API keys, outbox browser, escaping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.web.admin.helpers import post, signed_in
from tidings.bootstrap import Runtime
from tidings.db.tables import api_keys as api_keys_table
from tidings.db.tables import outbox
from tidings.domain.lists import OptIn
from tidings.services import lists, runtime_settings, subscribers

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def admin(client: TestClient, runtime: Runtime) -> TestClient:
    return signed_in(client, runtime)


def test_lists_are_created_edited_and_deleted(admin: TestClient, runtime: Runtime) -> None:
    created = post(admin, "/admin/lists/new", {"slug": "daily", "name": "Daily Brief",
                                                "optin": "single", "visibility": "private"})
    assert created.status_code == 303
    page = admin.get("/admin/lists").text
    assert "Daily Brief" in page and "private" in page
    clash = post(admin, "/admin/lists/new", {"slug": "daily", "name": "Other"})
    assert clash.status_code == 409 and "exists already" in clash.text
    bad = post(admin, "/admin/lists/new", {"slug": "Not A Slug", "name": "X"})
    assert bad.status_code == 422 and 'value="Not A Slug"' in bad.text  # input kept
    post(admin, "/admin/lists/daily", {"name": "Morning Brief", "optin": "double",
                                       "visibility": "public"})
    assert lists.get(runtime.db, "daily").name == "Morning Brief"
    subscribers.add(runtime.db, email="r@example.org", lists=["daily"], preconfirmed=True)
    assert "1" in admin.get("/admin/lists").text
    post(admin, "/admin/lists/daily/delete")
    assert 'href="/admin/lists/daily"' not in admin.get("/admin/lists").text
    assert subscribers.get(runtime.db, "r@example.org")  # the subscriber stays


def test_names_and_texts_from_users_are_escaped_everywhere(admin: TestClient,
                                                          runtime: Runtime) -> None:
    lists.create(runtime.db, slug="x", name=XSS, description=XSS)
    subscribers.add(runtime.db, email="evil@example.org", name=XSS, lists=["x"],
                    preconfirmed=True, attributes={"note": XSS})
    uid = subscribers.get(runtime.db, "evil@example.org").uid
    for path in ("/admin", "/admin/lists", "/admin/lists/x", "/admin/subscribers",
                 f"/admin/subscribers/{uid}", "/admin/subscribers?q=" + XSS):
        text = admin.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;" in text or path.startswith("/admin/subscribers?q"), path


def test_subscribers_page_through_without_gaps_or_repeats(admin: TestClient,
                                                          runtime: Runtime) -> None:
    lists.create(runtime.db, slug="daily", name="Daily", optin=OptIn.SINGLE)
    for i in range(120):
        subscribers.add(runtime.db, email=f"reader{i:03}@example.org", name=f"Reader {i}",
                        lists=["daily"] if i % 2 else [], preconfirmed=True)
    seen: list[str] = []
    url = "/admin/subscribers"
    while url:
        page = admin.get(url).text
        seen += re.findall(r"(reader\d{3}@example\.org)</a>", page)
        found = re.search(r'<a rel="next" href="([^"]+)"', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert len(seen) == 120 and len(set(seen)) == 120
    assert seen[0] == "reader119@example.org"  # newest first
    members = admin.get("/admin/subscribers?list=daily&list_status=confirmed").text
    numbers = [int(n) for n in re.findall(r"reader(\d{3})@example\.org</a>", members)]
    assert len(numbers) == 50 and all(n % 2 for n in numbers)
    search = admin.get("/admin/subscribers?q=READER01").text
    assert sorted(re.findall(r"(reader\d{3})@", search)) == [f"reader01{i}" for i in range(10)]
    by_name = admin.get("/admin/subscribers?q=reader 11").text
    assert "reader110@example.org" in by_name and "reader012@example.org" not in by_name
    assert admin.get("/admin/subscribers?cursor=garbage").status_code == 422


def test_one_subscriber_is_added_changed_blocklisted_and_deleted(admin: TestClient,
                                                                  runtime: Runtime) -> None:
    lists.create(runtime.db, slug="daily", name="Daily")
    lists.create(runtime.db, slug="weekly", name="Weekly")
    added = post(admin, "/admin/subscribers/new", {"email": "Ann@Example.org", "name": "Ann",
                                                   "lists": "daily", "confirmed": "yes"})
    assert added.status_code == 303
    path = added.headers["location"]
    page = admin.get(path).text
    assert "Ann@example.org" in page and "confirmed" in page
    assert "admin" in page  # the consent record names its source
    dup = post(admin, "/admin/subscribers/new", {"email": "ann@example.org"})
    assert dup.status_code == 409
    post(admin, path, {"name": "Ann B.", "attributes": '{"city": "Oslo"}'})
    found = subscribers.get(runtime.db, "ann@example.org")
    assert found.name == "Ann B." and found.attributes == {"city": "Oslo"}
    post(admin, path, {"name": "Ann B.", "attributes": "{not json"})
    assert subscribers.get(runtime.db, "ann@example.org").attributes == {"city": "Oslo"}
    post(admin, f"{path}/subscriptions", {"list": "weekly", "status": "unconfirmed"})
    with runtime.db.read() as conn:
        queued = conn.execute(select(outbox.c.kind, outbox.c.payload)).all()
    assert [q.kind for q in queued] == ["confirmation"]
    post(admin, f"{path}/subscriptions", {"list": "daily", "status": "unsubscribed"})
    profile = subscribers.profile(runtime.db, "ann@example.org")
    assert {profile.lists[k].slug: str(v.status) for k, v in profile.subscriptions.items()} \
        == {"daily": "unsubscribed", "weekly": "unconfirmed"}
    post(admin, f"{path}/status", {"status": "blocklisted"})
    assert str(subscribers.get(runtime.db, "ann@example.org").status) == "blocklisted"
    assert "blocklisted" in admin.get("/admin/subscribers?status=blocklisted").text
    post(admin, f"{path}/delete")
    assert admin.get(path).status_code == 404


def test_settings_are_validated_and_saved_together(admin: TestClient,
                                                   runtime: Runtime) -> None:
    page = admin.get("/admin/settings").text
    assert "publisher.postal_address" in page and "capture outbox" in page
    form = {"publisher.name": "The Gazette", "publisher.color_primary": "red",
            "signup.confirmations_per_day": "3"}
    refused = post(admin, "/admin/settings", form)
    assert refused.status_code == 422 and "#rrggbb" in refused.text
    assert runtime_settings.get(runtime.db, "publisher.name") != "The Gazette"  # all or nothing
    form["publisher.color_primary"] = "#112233"
    assert post(admin, "/admin/settings", form).status_code == 303
    assert runtime_settings.get(runtime.db, "publisher.name") == "The Gazette"
    assert runtime_settings.get(runtime.db, "signup.altcha") is False


def test_relay_passwords_are_never_shown(client: TestClient, runtime: Runtime) -> None:
    from tidings.web.admin.settings import relays

    found = relays(("smtp://mailer:s3cr3t@smtp.example.org:587?pool=4&rate=50",))
    assert found[0].password_set and found[0].username == "mailer"
    assert "s3cr3t" not in repr(found)


def test_api_keys_are_shown_once_and_revocable(admin: TestClient, runtime: Runtime) -> None:
    page = post(admin, "/admin/api-keys", {"name": "Website", "role": "editor"}, )
    assert page.status_code == 200
    secret = re.search(r'id="new-key">(tdg_[A-Za-z0-9_-]+)</code>', page.text)
    assert secret
    with runtime.db.read() as conn:
        stored = conn.execute(select(api_keys_table)).one()
    assert secret.group(1) not in str(stored._mapping.values())  # only a hash is kept
    assert secret.group(1) not in admin.get("/admin/api-keys").text
    headers = {"Authorization": f"Bearer {secret.group(1)}"}
    assert admin.get("/api/v1/lists", headers=headers).status_code == 200
    post(admin, f"/admin/api-keys/{stored.uid}/revoke")
    assert admin.get("/api/v1/lists", headers=headers).status_code == 401


def test_users_are_invited_and_the_last_admin_stays(admin: TestClient,
                                                    runtime: Runtime) -> None:
    invited = post(admin, "/admin/users", {"email": "ed@example.org", "role": "editor"})
    assert invited.status_code == 303
    with runtime.db.read() as conn:
        reset = conn.execute(select(outbox).where(outbox.c.kind == "password_reset")).one()
    assert reset.to_email == "ed@example.org" and reset.payload["user_id"]
    page = admin.get("/admin/users").text
    assert "ed@example.org" in page
    from tidings.services import team

    me = next(u for u in team.all_users(runtime.db) if u.email == "ann@example.org")
    refused = post(admin, f"/admin/users/{me.uid}/role", {"role": "viewer"})
    assert refused.status_code == 409 and "last active administrator" in refused.text
    ed = next(u for u in team.all_users(runtime.db) if u.email == "ed@example.org")
    post(admin, f"/admin/users/{ed.uid}/role", {"role": "admin"})
    assert team.get(runtime.db, ed.uid).role == "admin"
    assert "user.role_changed" in admin.get("/admin/events").text


def test_the_outbox_browser_shows_messages_and_nothing_else(admin: TestClient,
                                                            runtime: Runtime) -> None:
    outbox_dir: Path = runtime.settings.outbox_dir
    (outbox_dir / "2026").mkdir(parents=True)
    (outbox_dir / "2026" / "a.eml").write_bytes(
        b"From: news@example.org\r\nTo: ann@example.org\r\nSubject: Hello\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nHi Ann\r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>Hi</p><script>alert(1)</script>\r\n--b--\r\n")
    (runtime.settings.data_dir / "secret.eml").write_text("not in the outbox")
    index = admin.get("/admin/outbox").text
    assert "2026/a.eml" in index
    view = admin.get("/admin/outbox/view/2026/a.eml")
    assert "Hello" in view.text and "Hi Ann" in view.text and "sandbox" in view.text
    html = admin.get("/admin/outbox/html/2026/a.eml")
    assert "sandbox" in html.headers["content-security-policy"]
    assert "script-src" not in html.headers["content-security-policy"]
    for evil in ("../secret.eml", "..%2Fsecret.eml", "%2e%2e/secret.eml",
                 "2026/../../secret.eml", "/etc/passwd", "2026/a.eml%00.eml"):
        assert admin.get(f"/admin/outbox/view/{evil}").status_code == 404, evil
        assert admin.get(f"/admin/outbox/raw/{evil}").status_code == 404, evil
