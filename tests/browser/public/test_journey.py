"""A reader's whole journey in Chromium, with real mail: sign up to two lists, take the
confirmation email from the SMTP sink, confirm, change preferences, unsubscribe."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from tests.browser.public.conftest import Site
from tests.web.public.conftest import subscription_status
from tidings.db import consents, tables
from tidings.services import lists, runtime_settings, subscribers

pytestmark = pytest.mark.browser

READER = "journey@example.com"


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def link_in(message: EmailMessage, site: Site, path: str) -> str:
    found = re.search(re.escape(site.url) + path + r"[A-Za-z0-9_-]+", text_of(message))
    assert found is not None, f"no {path} link in:\n{text_of(message)}"
    return found.group(0)


def test_sign_up_confirm_change_and_leave(page: Page, site: Site, artifacts: Path) -> None:
    db = site.runtime.db
    daily = lists.create(db, slug="daily", name="The Daily Brief",
                         description="Every morning at seven.")
    weekly = lists.create(db, slug="weekly", name="Weekly Review",
                          description="The week in one long read.")
    with db.write() as conn:
        conn.execute(update(tables.lists).where(tables.lists.c.id == daily.id).values(
            welcome_subject="Welcome to the Daily Brief", welcome_body="Glad you are here."))
    runtime_settings.update(db, {"signup.min_fill_seconds": 0,
                                 "publisher.name": "The Example Times"})

    # Sign up to two lists.
    page.goto(site.url + "/subscribe")
    page.get_by_label("The Daily Brief").check()
    page.get_by_label("Weekly Review").check()
    page.get_by_label("Email address").fill(READER)
    page.get_by_label("Name").fill("Jo Reader")
    page.screenshot(path=str(artifacts / "1-signup.png"), full_page=True)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    page.screenshot(path=str(artifacts / "2-check-inbox.png"), full_page=True)

    # The confirmation email, sent by the worker through SMTP.
    (confirmation,) = site.sink.wait_for(1, timeout=20)
    assert confirmation.rcpt_tos == [READER]
    message = confirmation.message
    assert message["Auto-Submitted"] == "auto-generated"
    assert "The Daily Brief" in text_of(message) and "Weekly Review" in text_of(message)
    confirm = link_in(message, site, "/confirm/")

    # Opening the link confirms nothing; the button does.
    page.goto(confirm)
    expect(page.get_by_role("heading", name="Confirm your subscription")).to_be_visible()
    assert subscription_status(site.runtime, READER, daily.id) == "unconfirmed"
    page.screenshot(path=str(artifacts / "3-confirm.png"), full_page=True)
    page.get_by_role("button", name="Yes, subscribe me").click()
    expect(page.get_by_role("heading", name="You're subscribed")).to_be_visible()
    page.screenshot(path=str(artifacts / "4-confirmed.png"), full_page=True)
    assert subscription_status(site.runtime, READER, daily.id) == "confirmed"
    assert subscription_status(site.runtime, READER, weekly.id) == "confirmed"

    # The Daily Brief has a welcome message, with the one-click unsubscribe link.
    welcome = site.sink.wait_for(2, timeout=20)[1].message
    assert welcome["Subject"] == "Welcome to the Daily Brief"
    unsubscribe = re.search(r"<(http[^>]+/u/[A-Za-z0-9_-]+)>", str(welcome["List-Unsubscribe"]))
    assert unsubscribe is not None
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Preferences: leave the weekly list, keep the daily one, change the name.
    page.get_by_role("link", name="Manage your subscriptions").click()
    expect(page.get_by_role("heading", name="Your subscriptions")).to_be_visible()
    expect(page.get_by_label("Weekly Review")).to_be_checked()
    page.get_by_label("Weekly Review").uncheck()
    page.get_by_label("Name").fill("Jo R.")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    page.screenshot(path=str(artifacts / "5-preferences.png"), full_page=True)
    assert subscription_status(site.runtime, READER, weekly.id) == "unsubscribed"
    assert subscription_status(site.runtime, READER, daily.id) == "confirmed"
    assert subscribers.get(db, READER).name == "Jo R."

    # Unsubscribe from the link in the email.
    page.goto(unsubscribe.group(1))
    expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
    assert subscription_status(site.runtime, READER, daily.id) == "confirmed"
    page.get_by_label("All newsletters from The Example Times").check()
    page.screenshot(path=str(artifacts / "6-unsubscribe.png"), full_page=True)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    page.screenshot(path=str(artifacts / "7-unsubscribed.png"), full_page=True)
    assert subscription_status(site.runtime, READER, daily.id) == "unsubscribed"

    # Every step left its consent record.
    with db.read() as conn:
        records = consents.for_subscriber(conn, subscribers.get(db, READER).id)
    assert [(r["action"], r["source"]) for r in records] == [
        ("signup", "form"), ("confirm", "email-link"), ("unsubscribe", "preferences"),
        ("unsubscribe", "page")]
    assert all(r["ip"] == "127.0.0.1" and r["user_agent"] for r in records)
