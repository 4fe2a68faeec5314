"""No subject, name, address or reply-to can add a header or a line to a message."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mail.conftest import make_campaign, make_list, make_recipient, parse
from tidings.domain.errors import InvalidEmail, ValidationError
from tidings.mail import headers, system
from tidings.mail.campaign import compile_campaign
from tidings.mail.context import Sender
from tidings.mail.tokens import TokenSigner

EXPECTED = {"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
            "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID", "Precedence",
            "Reply-To"}
NASTY = ["\r\n", "\n", "\r", "\x00", "=?UTF-8?Q?=0A?=Bcc: victim@example.net",
         "\r\nBcc: victim@example.net", "\nSubject: second", "\u2028", "\x85", "\t", ":", "<>"]
nasty_text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=8)),
                      max_size=8).map("".join)


def _check(raw: bytes) -> None:
    message = parse(raw)
    assert set(message.keys()) == EXPECTED
    assert all(len(message.get_all(name) or []) == 1 for name in EXPECTED)
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    head = raw.partition(b"\r\n\r\n")[0]
    assert b"\r\nBcc:" not in head and b"\x00" not in raw
    assert max(map(len, raw.split(b"\r\n"))) <= 998


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(subject=nasty_text, name=nasty_text, from_name=nasty_text, list_name=nasty_text)
def test_nothing_a_user_types_adds_a_header(sender: Sender, tokens: TokenSigner, subject: str,
                                            name: str, from_name: str, list_name: str) -> None:
    campaign = make_campaign(subject="{{ subscriber.name }} " + subject.replace("{", "("),
                             from_name=from_name, reply_to="letters@example.org")
    mailing_list = replace(make_list(), name=list_name or "x")
    compiled = compile_campaign(campaign, [mailing_list], layout=None, sender=sender,
                                tokens=tokens, dkim=None)
    raw = compiled.render(make_recipient(name=name)).data
    _check(raw)
    message = parse(raw)
    assert message["Reply-To"] == "letters@example.org"
    assert "victim" not in str(message["To"]).split("<")[-1]


@pytest.mark.parametrize("value", NASTY)
def test_each_nasty_value_is_flattened_to_one_line(value: str) -> None:
    for written in (headers.text("Subject", f"a{value}b"), headers.phrase(f"a{value}b")):
        unfolded = written.replace("\r\n ", " ")
        assert "\r" not in unfolded and "\n" not in unfolded and "\x00" not in unfolded
        assert unfolded.isascii()
    decoded = headers.decode(headers.text("Subject", f"a{value}b"))
    assert "\n" not in decoded and "\r" not in decoded and "\x00" not in decoded


@pytest.mark.parametrize("address", ["a@example.com\r\nBcc: b@example.net", "a@exa mple.com",
                                     "a@example.com>", "<a@example.com", "a\n@example.com",
                                     "no-at-sign", "a@", "@example.com", "a@exam\x00ple.com"])
def test_an_address_that_could_break_a_header_is_refused(address: str) -> None:
    with pytest.raises(InvalidEmail):
        headers.addr_spec(address)


def test_reply_to_with_a_line_break_is_refused(sender: Sender, tokens: TokenSigner) -> None:
    campaign = make_campaign(reply_to="a@example.org\r\nBcc: b@example.net")
    with pytest.raises(ValidationError):
        compile_campaign(campaign, [make_list()], layout=None, sender=sender, tokens=tokens,
                         dkim=None)


def test_a_system_message_for_a_nasty_name_keeps_its_headers(sender: Sender,
                                                             tokens: TokenSigner) -> None:
    reader = make_recipient(name="Eve\r\nBcc: victim@example.net")
    raw = system.build("confirmation", {"consent_id": 1, "list_ids": [1]},
                       to_email=reader.email, recipient=reader, lists=[make_list()],
                       sender=sender, tokens=tokens).data
    message = parse(raw)
    assert "Bcc" not in message
    assert b"\r\nBcc:" not in raw.partition(b"\r\n\r\n")[0]
