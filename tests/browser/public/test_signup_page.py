"""The signup forms in a real browser: validation before sending, ALTCHA, embedding."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.public.conftest import Publisher, Site
from tests.web.public.conftest import count
from tidings.domain.lists import OptIn
from tidings.services import lists, runtime_settings
from tidings.web.embed import embed_snippet

pytestmark = pytest.mark.browser

NO_LIST = "Please select at least one mailing list."


def two_lists(site: Site) -> None:
    lists.create(site.runtime.db, slug="daily", name="The Daily Brief",
                 description="Every morning at seven.")
    lists.create(site.runtime.db, slug="weekly", name="Weekly Review", optin=OptIn.SINGLE)
    # A browser driven by a test fills forms faster than any person: the fill-time
    # check would (rightly) take it for a bot. That check has its own HTTP tests.
    runtime_settings.update(site.runtime.db, {"signup.min_fill_seconds": 0})


def test_no_list_is_caught_before_sending(page: Page, site: Site, artifacts: Path) -> None:
    two_lists(site)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(site.url + "/subscribe")
    page.get_by_label("Email address").fill("ann@example.com")
    page.get_by_label("Name").fill("Ann")
    page.get_by_role("button", name="Subscribe").click()
    alert = page.locator("#tidings-lists-error")
    expect(alert).to_have_text(NO_LIST)
    expect(alert).to_have_attribute("role", "alert")
    expect(page.get_by_label("The Daily Brief")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("The Daily Brief")).to_be_focused()
    expect(page.get_by_label("Email address")).to_have_value("ann@example.com")
    page.screenshot(path=str(artifacts / "no-list.png"), full_page=True)
    assert posts == [] and count(site.runtime, "subscribers") == 0
    page.get_by_label("Weekly Review").check()
    expect(alert).to_have_text("")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="You're subscribed")).to_be_visible()
    assert count(site.runtime, "subscribers") == 1


def test_small_screens_and_keyboard(page: Page, site: Site, artifacts: Path) -> None:
    two_lists(site)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(site.url + "/subscribe/daily")
    expect(page.get_by_label("The Daily Brief")).to_be_checked()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360  # no sideways scrolling
    page.screenshot(path=str(artifacts / "narrow.png"), full_page=True)
    page.get_by_label("The Daily Brief").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Weekly Review")).to_be_focused()


def test_altcha_is_solved_in_the_browser(page: Page, site: Site, artifacts: Path) -> None:
    two_lists(site)
    runtime_settings.update(site.runtime.db, {"signup.altcha": True})
    page.goto(site.url + "/subscribe")
    page.get_by_label("The Daily Brief").check()
    page.get_by_label("Email address").fill("pow@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible(timeout=30000)
    assert count(site.runtime, "subscribers") == 1


def test_embedded_form_on_the_publishers_site(page: Page, site: Site, publisher: Publisher,
                                              artifacts: Path) -> None:
    two_lists(site)
    snippet = embed_snippet(site.url, lists.all_lists(site.runtime.db), db=site.runtime.db)
    publisher.pages["/article"] = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Kerry meets Putin"
        "</title></head><body><article><h1>Kerry meets Putin</h1><p>Talks in Sochi.</p>"
        f"</article>{snippet}</body></html>")
    page.goto(publisher.origin + "/article")
    page.get_by_label("Email address").fill("reader@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#tidings-lists-error")).to_have_text(NO_LIST)
    page.get_by_label("The Daily Brief").check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("[data-tidings-status]")).to_contain_text("Please check your inbox")
    assert page.url == publisher.origin + "/article"  # never left the article
    page.screenshot(path=str(artifacts / "embedded.png"), full_page=True)
    assert count(site.runtime, "consents", "source = 'embed'") == 1
    site.sink.wait_for(1)


def test_embedded_form_falls_back_to_a_plain_post(page: Page, site: Site,
                                                   publisher: Publisher) -> None:
    two_lists(site)
    snippet = embed_snippet(site.url, lists.all_lists(site.runtime.db), db=site.runtime.db)
    publisher.pages["/article"] = f"<!doctype html><html lang=en><body>{snippet}</body></html>"
    # The site is not (or no longer) allowed: the script's calls are refused.
    site.runtime.settings = site.runtime.settings.model_copy(update={"cors_origins": ()})
    page.goto(publisher.origin + "/article")
    page.get_by_label("Weekly Review").check()
    page.get_by_label("Email address").fill("plain@example.com")
    page.get_by_role("button", name="Subscribe").click()
    # Tidings' own page takes over, filled in; one more press signs up.
    expect(page.get_by_text("Almost done")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value("plain@example.com")
    expect(page.get_by_label("Weekly Review")).to_be_checked()
    assert count(site.runtime, "subscribers") == 0
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="You're subscribed")).to_be_visible()
    assert count(site.runtime, "consents", "source = 'embed'") == 1
