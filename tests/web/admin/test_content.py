"""Admin pages for imports and exports, layouts, segments, DKIM keys and the signup form."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.web.admin.helpers import csrf, post, signed_in
from tidings.bootstrap import Runtime
from tidings.services import lists, runtime_settings, subscribers


@pytest.fixture
def admin(client: TestClient, runtime: Runtime) -> TestClient:
    lists.create(runtime.db, slug="daily", name="Daily")
    return signed_in(client, runtime)


PAGES = ("/admin", "/admin/lists", "/admin/subscribers", "/admin/imports", "/admin/campaigns",
         "/admin/templates", "/admin/templates/new", "/admin/segments", "/admin/segments/new",
         "/admin/embed", "/admin/settings", "/admin/users", "/admin/api-keys", "/admin/events",
         "/admin/outbox", "/admin/account")


def test_every_page_renders_with_its_navigation_entry_marked(admin: TestClient) -> None:
    for path in PAGES:
        response = admin.get(path)
        assert response.status_code == 200, path
        assert 'aria-current="page"' in response.text, path


def test_a_csv_import_runs_with_progress_and_a_report(admin: TestClient) -> None:
    token = csrf(admin, "/admin/imports")
    started = admin.post("/admin/imports", data={"csrf": token, "lists": "daily",
                                                 "status": "confirmed"},
                         files={"file": ("readers.csv", b"email,name\na@example.org,A\n"
                                                        b"not-an-address,B\n", "text/csv")},
                         follow_redirects=False)
    assert started.status_code == 303
    job = started.headers["location"]
    deadline = time.monotonic() + 20
    while not (state := admin.get(job + "/progress.json").json())["done"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state["status"] == "finished" and state["imported"] == 1 and state["skipped"] == 1
    assert "Download the 1 skipped rows" in admin.get(job).text
    report = admin.get(job + "/report.csv").text
    assert "not-an-address" in report
    exported = admin.get("/admin/export?list=daily")
    assert exported.headers["content-disposition"].startswith("attachment")
    assert "a@example.org" in exported.text and "not-an-address" not in exported.text


def test_an_import_without_a_file_or_with_an_unknown_list_is_refused(admin: TestClient) -> None:
    token = csrf(admin, "/admin/imports")
    assert admin.post("/admin/imports", data={"csrf": token}).status_code == 422
    refused = admin.post("/admin/imports", data={"csrf": token, "lists": "nope"},
                         files={"file": ("x.csv", b"email\na@example.org\n", "text/csv")})
    assert refused.status_code == 422 and "nope" in refused.text


def test_segments_are_counted_before_they_are_saved(admin: TestClient,
                                                    runtime: Runtime) -> None:
    subscribers.add(runtime.db, email="a@example.org", lists=["daily"], preconfirmed=True)
    subscribers.add(runtime.db, email="b@example.org")
    rule = '{"all": [{"field": "list", "op": "confirmed", "value": "daily"}]}'
    counted = post(admin, "/admin/segments/new", {"name": "Daily readers", "filter": rule,
                                                  "action": "count"})
    assert "<strong>1</strong> subscribers match" in counted.text
    bad = post(admin, "/admin/segments/new", {"name": "X", "filter": "{not json"})
    assert bad.status_code == 422 and "not valid JSON" in bad.text
    saved = post(admin, "/admin/segments/new", {"name": "Daily readers", "filter": rule})
    assert saved.status_code == 303
    assert "Daily readers" in admin.get("/admin/segments").text


def test_dkim_keys_show_their_dns_record_never_the_private_key(admin: TestClient,
                                                               runtime: Runtime) -> None:
    made = post(admin, "/admin/settings/dkim", {"domain": "example.org", "selector": "s1",
                                                "algorithm": "ed25519-sha256"})
    assert made.status_code == 303
    stored = runtime_settings.get(runtime.db, "dkim.keys")
    assert len(stored) == 1
    page = admin.get("/admin/settings").text
    assert "s1._domainkey.example.org" in page and "v=DKIM1" in page
    assert stored[0]["private_key"] not in page
    again = post(admin, "/admin/settings/dkim", {"domain": "example.org", "selector": "s1"})
    assert "already" in admin.get(again.headers["location"]).text
    post(admin, "/admin/settings/dkim/remove", {"domain": "example.org", "selector": "s1"})
    assert runtime_settings.get(runtime.db, "dkim.keys") == []


def test_the_signup_snippet_is_shown_as_text(admin: TestClient) -> None:
    page = admin.get("/admin/embed?chosen=daily&heading=%3Cb%3EJoin%3C/b%3E").text
    assert "&lt;form" in page and "<b>Join</b>" not in page
