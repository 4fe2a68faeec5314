"""Chromium for browser tests: Debian's, through Playwright, started per test module.

Playwright's sync API keeps an event loop running in the main thread while it is
started, and every ``asyncio.run()`` in that process fails meanwhile (the delivery tests
and others use it). pytest-playwright's own ``page`` fixture keeps Playwright for the
whole session, so the root conftest replaces ``page`` with these fixtures: Playwright
starts for the browser tests of one module and stops after them. A test that asks for
pytest-playwright's session fixtures directly still works: :func:`chromium` then shares
that browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.services import need_chromium


@pytest.fixture(scope="module")
def chromium(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """Debian's Chromium for the tests of one module."""
    executable = need_chromium()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # pytest-playwright's session Playwright runs already: share its browser
        shared: Browser = request.getfixturevalue("browser")
        yield shared
        return
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh page in a context of its own."""
    context = chromium.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
