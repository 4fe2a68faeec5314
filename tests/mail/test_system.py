"""Confirmation, welcome, test and password messages, as the delivery worker builds them."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.mail.conftest import DOMAIN, make_campaign, make_list, make_recipient, parse
from tidings.domain.errors import TokenExpired
from tidings.mail import links, system
from tidings.mail.context import Outgoing, Sender
from tidings.mail.tokens import Purpose, TokenSigner
from tidings.services import outbox

WEEKLY = make_list(1, "weekly", "Example Weekly")
DAILY = make_list(2, "daily", "Example Daily")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).timestamp()


def confirmation(sender: Sender, tokens: TokenSigner, lists: list[object] | None = None,
                 **kwargs: object) -> Outgoing:
    reader = make_recipient(list_ids=())
    return system.build("confirmation", {"consent_id": 77, "list_ids": [1, 2]},
                        to_email=reader.email, recipient=reader, lists=lists or [WEEKLY, DAILY],
                        sender=sender, tokens=tokens, now=NOW, **kwargs)  # type: ignore[arg-type]


def _well_formed(raw: bytes) -> None:
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert max(map(len, raw.split(b"\r\n"))) <= 998
    message = parse(raw)
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert len(message.get_all(name) or []) == 1


def test_confirmation_names_the_lists_links_to_confirm_and_states_expiry(
        sender: Sender, tokens: TokenSigner) -> None:
    outgoing = confirmation(sender, tokens)
    _well_formed(outgoing.data)
    message = parse(outgoing.data)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Subject"] == "Please confirm your subscription to 2 newsletters"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Example Weekly" in part and "Example Daily" in part
        assert "7 days" in part and "06 December 2026, 12:00" in part
    urls = set(re.findall(rf"https://{re.escape(DOMAIN)}/confirm/([A-Za-z0-9_-]+)", text))
    assert len(urls) == 1
    token = urls.pop()
    assert tokens.verify(Purpose.CONFIRM, token, arity=3, max_age=links.CONFIRM_MAX_AGE,
                         now=NOW)[:2] == (9187, 77)
    with pytest.raises(TokenExpired):
        tokens.verify(Purpose.CONFIRM, token, arity=3, max_age=links.CONFIRM_MAX_AGE,
                      now=NOW + links.CONFIRM_MAX_AGE + 120)


def test_confirmation_has_no_images_tracking_or_unsubscribe_headers(
        sender: Sender, tokens: TokenSigner) -> None:
    branded = replace(sender, logo_url="https://cdn.example.org/logo.png")
    message = parse(confirmation(branded, tokens).data)
    html = message.get_body(("html",)).get_content()
    assert "<img" not in html.lower() and "logo.png" not in html
    assert "List-Unsubscribe" not in message and "List-Id" not in message
    assert "Precedence" not in message
    hrefs = set(re.findall(r'href="([^"]+)"', html))
    assert len(hrefs) == 1 and hrefs.pop().startswith(f"https://{DOMAIN}/confirm/")


def test_one_list_is_named_in_the_subject(sender: Sender, tokens: TokenSigner) -> None:
    message = parse(confirmation(sender, tokens, lists=[WEEKLY]).data)
    assert message["Subject"] == "Please confirm your subscription to Example Weekly"


def test_welcome_uses_the_list_text_with_merge_fields_and_is_a_list_message(
        sender: Sender, tokens: TokenSigner) -> None:
    reader = make_recipient(list_ids=())
    outgoing = system.build(
        "welcome", {"list_id": 1}, to_email=reader.email, recipient=reader, lists=[WEEKLY],
        welcome_subject="Welcome aboard, {{ subscriber.first_name }}!",
        welcome_body="Hi **{{ subscriber.name }}**, you joined {{ list.name }}.",
        sender=sender, tokens=tokens, now=NOW)
    _well_formed(outgoing.data)
    message = parse(outgoing.data)
    assert message["Subject"] == "Welcome aboard, Ada!"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Id"] == "Example Weekly <weekly.news.example.org>"
    assert message["Feedback-ID"] == "welcome:weekly:tx:exnews01"
    url = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))[0]
    assert tokens.verify(Purpose.UNSUBSCRIBE, url.rsplit("/", 1)[1], arity=3) == (9187, 1, 0)
    text = message.get_body(("plain",)).get_content()
    assert "Hi Ada Lovelace, you joined Example Weekly." in text
    assert url in text and "1 Harbour Street" in text


def test_welcome_without_a_list_text_uses_the_default(sender: Sender,
                                                      tokens: TokenSigner) -> None:
    reader = make_recipient()
    message = parse(system.build("welcome", {"list_id": 1}, to_email=reader.email,
                                 recipient=reader, lists=[WEEKLY], sender=sender,
                                 tokens=tokens).data)
    assert message["Subject"] == "Welcome to Example Weekly"
    assert "thank you for subscribing to Example Weekly" in \
        message.get_body(("plain",)).get_content()


def test_test_send_is_the_campaign_with_a_marked_subject_and_fresh_id(
        sender: Sender, tokens: TokenSigner) -> None:
    campaign = make_campaign()
    first = system.build("test", {"campaign_id": campaign.id}, to_email="editor@example.org",
                         campaign=campaign, lists=[WEEKLY], sender=sender, tokens=tokens)
    second = system.build("test", {"campaign_id": campaign.id}, to_email="editor@example.org",
                          campaign=campaign, lists=[WEEKLY], sender=sender, tokens=tokens)
    _well_formed(first.data)
    message = parse(first.data)
    assert message["Subject"] == "[Test] News for"
    assert message["To"] == "editor@example.org"
    assert first.message_id != second.message_id
    known = make_recipient(email="editor@example.org")
    personal = parse(system.build("test", {"campaign_id": campaign.id},
                                  to_email="editor@example.org", recipient=known,
                                  campaign=campaign, lists=[WEEKLY], sender=sender,
                                  tokens=tokens).data)
    assert personal["Subject"] == "[Test] News for Ada"
    assert "Hello Ada Lovelace" in personal.get_body(("plain",)).get_content()


def test_password_reset_carries_the_link(sender: Sender, tokens: TokenSigner) -> None:
    link = links.password_reset_url(sender.base_url, tokens, 3, 1, now=NOW)
    outgoing = system.build("password_reset", {"user_id": 3}, to_email="admin@example.org",
                            link=link, name="Grace", sender=sender, tokens=tokens, now=NOW)
    _well_formed(outgoing.data)
    message = parse(outgoing.data)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["To"] == "Grace <admin@example.org>"
    text = message.get_body(("plain",)).get_content()
    assert link in text and "60 minutes" in text
    token = link.rsplit("/", 1)[1]
    assert tokens.verify(Purpose.PASSWORD_RESET, token, arity=3,
                         max_age=links.PASSWORD_RESET_MAX_AGE, now=NOW)[:2] == (3, 1)


@pytest.mark.parametrize("kind, kwargs", [
    ("confirmation", {}),
    ("welcome", {}),
    ("test", {}),
    ("password_reset", {}),
    ("newsletter", {}),
])
def test_missing_inputs_are_a_programming_error(sender: Sender, tokens: TokenSigner, kind: str,
                                                kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        system.build(kind, {"consent_id": 1, "list_ids": [], "list_id": 1, "campaign_id": 1,
                            "user_id": 1}, to_email="a@example.org", sender=sender,
                     tokens=tokens, **kwargs)  # type: ignore[arg-type]
    assert system.KINDS == outbox.KINDS


def test_envelope_sender_is_verp_for_the_subscriber(sender: Sender, tokens: TokenSigner) -> None:
    outgoing = confirmation(sender, tokens)
    assert outgoing.envelope_from == links.verp_address(DOMAIN, tokens, 9187, 0)
    assert outgoing.recipient == "reader9187@example.com"
