from __future__ import annotations

from tests.inbound import messages
from tidings.domain.bounces import BounceKind
from tidings.inbound.reports import read, verp_ids
from tidings.mail import links
from tidings.mail.tokens import TokenSigner

tokens = TokenSigner("inbound-test-secret-0123456789")


def test_verp_addresses_round_trip_and_reject_tampering() -> None:
    address = links.verp_address("news.example.org", tokens, 1234, 56)
    assert verp_ids(address, tokens) == (1234, 56)
    local, _, domain = address.partition("@")
    tampered = local[:-1] + ("A" if local[-1] != "A" else "B") + "@" + domain
    assert verp_ids(tampered, tokens) is None
    assert verp_ids("someone@example.com", tokens) is None


def test_dsn_sent_to_the_verp_address() -> None:
    verp = links.verp_address("news.example.org", tokens, 7, 3)
    report = read(messages.dsn("gone@example.com", "5.1.1", "550 5.1.1 user unknown"),
                  tokens, envelope_to=verp)
    assert (report.source, report.subscriber_id, report.campaign_id) == ("dsn", 7, 3)
    assert [(f.recipient, f.kind, f.status) for f in report.failures] == [
        ("gone@example.com", BounceKind.HARD, "5.1.1")]


def test_delayed_dsn_is_soft_and_attributed_from_the_returned_headers() -> None:
    token = links.unsubscribe_token(tokens, 9, 2, 4)
    headers = f"List-Unsubscribe: <https://news.example.org/u/{token}>\r\nSubject: Hi"
    report = read(messages.dsn("r@example.com", "4.2.2", "452 4.2.2 mailbox full",
                               action="delayed", original_headers=headers), tokens)
    assert (report.subscriber_id, report.campaign_id) == (9, 4)
    assert report.failures[0].kind is BounceKind.SOFT


def test_arf_complaint_is_attributed_through_original_mail_from() -> None:
    verp = links.verp_address("news.example.org", tokens, 11, 5)
    report = read(messages.arf(original_mail_from=verp), tokens)
    assert (report.source, report.subscriber_id, report.campaign_id) == ("arf", 11, 5)
    assert report.failures[0].kind is BounceKind.COMPLAINT


def test_not_spam_reports_and_auto_replies_are_ignored() -> None:
    assert read(messages.arf(feedback_type="not-spam"), tokens).failures[0].kind \
        is BounceKind.IGNORE
    assert read(messages.vacation(), tokens).failures[0].kind is BounceKind.IGNORE


def test_plain_text_bounce_is_classified_from_its_text() -> None:
    report = read(messages.plain_bounce("<x@example.com>: 550 5.1.1 user unknown"), tokens)
    assert report.source == "unknown"
    assert report.failures[0].kind is BounceKind.HARD
    assert report.subscriber_id is None


def test_garbage_does_not_crash() -> None:
    for raw in (b"", b"\x00\xff\xfe", b"Content-Type: multipart/report\r\n\r\n--x--",
                b"Content-Type: message/delivery-status\r\n\r\nAction: failed\r\n"):
        report = read(raw, tokens)
        assert report.subscriber_id is None
