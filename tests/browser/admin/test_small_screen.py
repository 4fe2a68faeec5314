"""An editor on a phone: sign in with a second factor, find a reader, change their
subscription; every admin page loads without a script or policy error."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.browser.admin.conftest import Admin
from tidings.domain.lists import OptIn
from tidings.domain.roles import Role
from tidings.services import accounts, lists, runtime_settings, subscribers, users

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
PAGES = ("/admin", "/admin/lists", "/admin/subscribers", "/admin/imports", "/admin/campaigns",
         "/admin/campaigns/new", "/admin/templates", "/admin/segments", "/admin/embed",
         "/admin/outbox", "/admin/account")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_editor_on_a_phone(page: Page, admin_site: Admin, artifacts: Path) -> None:
    db = admin_site.runtime.db
    runtime_settings.update(db, {"setup.completed": True, "publisher.name": "The Gazette"})
    row = users.create(db, email="ed@example.org", password=PASSWORD, role=Role.EDITOR)
    secret = pyotp.random_base32()
    user = accounts.get(db, row["id"])
    assert user is not None
    totp = pyotp.TOTP(secret)
    # Enrol with this step's code and sign in below with the next step's: both are
    # accepted (one step of drift either way) whenever the checks run, and the sign-in
    # code is never the enrolment's, which would be refused as a replay.
    accounts.enable_totp(db, user, secret=secret, code=totp.now(),
                         password=PASSWORD)
    lists.create(db, slug="daily", name="The Daily Brief", optin=OptIn.SINGLE)
    for i in range(30):
        subscribers.add(db, email=f"reader{i}@example.org", name=f"Reader {i}",
                        lists=["daily"], preconfirmed=True)

    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(admin_site.url + "/admin/subscribers")
    page.get_by_label("Email address").fill("ed@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_label("Code").fill(totp.at(time.time() + totp.interval))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Subscribers")).to_be_visible()
    assert page.url.endswith("/admin/subscribers")  # back where the sign-in started

    page.get_by_role("searchbox", name="Search").fill("reader2")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(1 + 10)  # reader2 and reader20-29
    page.screenshot(path=artifacts / "01-search.png", full_page=True)
    page.get_by_role("link", name="reader21@example.org").click()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("status")).to_contain_text("unsubscribed")
    page.screenshot(path=artifacts / "02-subscriber.png", full_page=True)
    profile = subscribers.profile(db, "reader21@example.org")
    assert [str(s.status) for s in profile.subscriptions.values()] == ["unsubscribed"]

    for path in PAGES:
        page.goto(admin_site.url + path)
        expect(page.locator("main h1")).to_be_visible()
    page.goto(admin_site.url + "/admin/settings")
    expect(page.get_by_role("heading", name="Forbidden")).to_be_visible()  # editors only
    errors = [e for e in errors if "403" not in e]
    assert errors == []  # no script errors, no Content-Security-Policy violations
