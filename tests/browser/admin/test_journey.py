"""The editor's journey in Chromium: set up, create a list, import readers, write a
campaign with its live preview, send it to the capture outbox, watch it finish, read
the results and the message itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.admin.conftest import Admin
from tidings.mail import links

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
READERS = 40


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_from_setup_to_sent_campaign(page: Page, admin_site: Admin, artifacts: Path,
                                     tmp_path: Path) -> None:
    rt = admin_site.runtime
    page.goto(admin_site.url + "/admin")
    expect(page.get_by_role("heading", name="Setup pending")).to_be_visible()

    # First run, through the link the console prints.
    page.goto(links.setup_url(rt.settings.base_url, rt.tokens))
    page.get_by_label("Email address").fill("editor@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Publisher's name").fill("The Gazette")
    page.get_by_label("Postal address").fill("1 Main Street\nSpringfield")
    page.get_by_label("Sending address").fill("news@example.org")
    page.screenshot(path=artifacts / "01-setup.png", full_page=True)
    page.get_by_role("button", name="Finish setup").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # A list.
    page.get_by_role("link", name="Lists", exact=True).click()
    page.get_by_role("link", name="New list").click()
    page.get_by_label("Name").fill("The Daily Brief")
    page.get_by_label("Slug").fill("daily")
    page.get_by_label("Single").check()
    page.get_by_role("button", name="Create list").click()
    expect(page.get_by_role("status")).to_contain_text("Created the list The Daily Brief")

    # Readers from a CSV file, with the progress shown until the end.
    csv = tmp_path / "readers.csv"
    csv.write_text("email,name\n" + "".join(f"reader{i}@example.org,Reader {i}\n"
                                            for i in range(READERS)) + "broken,Nobody\n")
    page.get_by_role("link", name="Import").click()
    page.get_by_label("File").set_input_files(str(csv))
    page.get_by_label("The Daily Brief").check()
    page.get_by_label("New subscriptions").select_option("confirmed")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-status")).to_have_text("finished", timeout=30_000)
    expect(page.get_by_text("Download the 1 skipped rows")).to_be_visible()
    page.screenshot(path=artifacts / "02-import.png", full_page=True)

    # A campaign, with the live preview following the text.
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label(re.compile("^Name")).fill("Issue 1")
    page.get_by_label("Subject").fill("Good morning, {{ subscriber.name }}")
    page.get_by_label("The Daily Brief").check()
    page.get_by_label("Body").fill("# Today's brief\n\nThe first issue of the Gazette.")
    preview = page.frame_locator("#preview")
    expect(preview.get_by_role("heading", name="Today's brief")).to_be_visible(
        timeout=15_000)
    page.screenshot(path=artifacts / "03-editor.png", full_page=True)
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status")).to_contain_text("Draft saved")

    # Send, after the confirmation page, and watch it to the end.
    page.get_by_role("link", name="Send now…").click()
    expect(page.get_by_text(f"{READERS} confirmed")).to_be_visible()
    page.get_by_label(re.compile("Yes, send it")).check()
    page.screenshot(path=artifacts / "04-confirm.png", full_page=True)
    page.get_by_role("button", name="Send now").click()
    expect(page.locator("#status-badge")).to_have_text("finished", timeout=60_000)
    expect(page.locator("#sent")).to_have_text(str(READERS))
    expect(page.get_by_role("img", name="Messages accepted per minute")).to_be_visible()
    page.screenshot(path=artifacts / "05-results.png", full_page=True)

    # The messages are in the capture outbox, readable in the admin.
    page.get_by_role("link", name="Outbox").click()
    expect(page.get_by_text(f"{READERS} messages")).to_be_visible()
    page.locator("table.data a").first.click()
    expect(page.get_by_text("Good morning, Reader")).to_be_visible()
    body = page.frame_locator("iframe.preview")
    expect(body.get_by_role("heading", name="Today's brief")).to_be_visible()
    page.screenshot(path=artifacts / "06-outbox.png", full_page=True)

    # The dashboard counts the readers and charts the campaign.
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("img", name="Deliveries of recent campaigns")).to_be_visible()
    page.screenshot(path=artifacts / "07-dashboard.png", full_page=True)
