"""The default layout in a real browser: fits a phone and a desktop, follows dark mode."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.mail.conftest import make_campaign, make_list, make_recipient, parse
from tidings.mail.campaign import compile_campaign
from tidings.mail.context import Sender
from tidings.mail.tokens import TokenSigner

pytestmark = pytest.mark.browser

BODY = ("# A headline long enough to wrap on a phone screen\n\n" + "Words and more words. " * 80
        + "\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        + "![A chart](https://example.org/chart.png)\n\n"
        + "A link: https://example.org/" + "x" * 120 + "\n")


def _html(sender: Sender, tokens: TokenSigner) -> str:
    compiled = compile_campaign(make_campaign(body=BODY), [make_list()], layout=None,
                                sender=sender, tokens=tokens, dkim=None)
    return str(parse(compiled.render(make_recipient()).data).get_body(("html",)).get_content())


@pytest.mark.parametrize("width", [360, 1024])
def test_default_layout_fits_the_screen(page: Page, sender: Sender, tokens: TokenSigner,
                                        width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    page.route("**/*", lambda route: route.abort())  # no network: the image stays blank
    page.set_content(_html(sender, tokens))
    sizes = page.evaluate("""() => {
        const card = document.querySelector('.card').getBoundingClientRect();
        return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                card: card.width};
    }""")
    assert sizes["scroll"] <= sizes["inner"]
    assert sizes["card"] <= 600
    if width > 620:
        assert sizes["card"] == 600
    assert page.get_by_role("link", name="Unsubscribe").is_visible()
    assert page.get_by_text("1 Harbour Street").is_visible()


def test_default_layout_follows_dark_mode(page: Page, sender: Sender,
                                          tokens: TokenSigner) -> None:
    page.set_content(_html(sender, tokens))
    light = page.evaluate("getComputedStyle(document.querySelector('.card')).backgroundColor")
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate("getComputedStyle(document.querySelector('.card')).backgroundColor")
    assert light == "rgb(255, 255, 255)"
    assert dark == "rgb(31, 41, 55)"
