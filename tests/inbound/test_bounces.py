"""Recording bounces and complaints and what follows, on both databases."""

from __future__ import annotations

import smtplib

import pytest

from tests.inbound import messages
from tidings.bootstrap import Runtime
from tidings.db import bounces as db_bounces
from tidings.db import campaigns as db_campaigns
from tidings.domain.bounces import BounceKind
from tidings.domain.campaigns import CampaignStatus
from tidings.domain.errors import Suppressed
from tidings.domain.lists import OptIn
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.inbound import intake, server
from tidings.mail import links
from tidings.services import bounces, campaigns, lists, sending, subscribers, suppressions


@pytest.fixture
def reader(runtime: Runtime) -> int:
    lists.create(runtime.db, slug="daily", name="Daily", optin=OptIn.SINGLE)
    lists.create(runtime.db, slug="weekly", name="Weekly", optin=OptIn.SINGLE)
    return subscribers.add(runtime.db, email="reader@example.com",
                           lists=["daily", "weekly"]).id


def _status(runtime: Runtime) -> tuple[SubscriberStatus, set[SubscriptionStatus]]:
    profile = subscribers.profile(runtime.db, "reader@example.com")
    return profile.subscriber.status, {s.status for s in profile.subscriptions.values()}


def test_one_hard_bounce_blocklists_and_suppresses(runtime: Runtime, reader: int) -> None:
    bounces.record(runtime.db, subscriber_id=reader, campaign_id=None, kind=BounceKind.HARD,
                   source="dsn", status="5.1.1")
    assert _status(runtime)[0] is SubscriberStatus.BLOCKLISTED
    assert suppressions.is_suppressed(runtime.db, "READER@example.com")


def test_soft_bounces_act_only_at_the_threshold(runtime: Runtime, reader: int) -> None:
    for _ in range(4):
        bounces.record(runtime.db, subscriber_id=reader, campaign_id=None,
                       kind=BounceKind.SOFT, source="dsn", status="4.2.2")
    assert _status(runtime)[0] is SubscriberStatus.ENABLED
    bounces.record(runtime.db, subscriber_id=reader, campaign_id=None, kind=BounceKind.SOFT,
                   source="dsn", status="4.2.2")
    assert _status(runtime)[0] is SubscriberStatus.BLOCKLISTED
    assert not suppressions.is_suppressed(runtime.db, "reader@example.com")


def test_complaint_unsubscribes_everywhere_and_blocks_reimport(runtime: Runtime,
                                                               reader: int) -> None:
    verp = links.verp_address("news.example.org", runtime.tokens, reader, 0)
    report = intake.process(runtime.db, runtime.tokens,
                            messages.arf(original_mail_from=verp))
    assert report.subscriber_id == reader
    assert _status(runtime) == (SubscriberStatus.BLOCKLISTED, {SubscriptionStatus.UNSUBSCRIBED})
    subscribers.delete(runtime.db, "reader@example.com")
    with pytest.raises(Suppressed):
        subscribers.add(runtime.db, email="reader@example.com")


def test_sender_config_failures_never_blame_the_reader(runtime: Runtime, reader: int) -> None:
    bounces.record(runtime.db, subscriber_id=reader, campaign_id=None,
                   kind=BounceKind.SENDER_CONFIG, source="smtp", status="5.7.26")
    assert _status(runtime)[0] is SubscriberStatus.ENABLED
    with runtime.db.read() as conn:
        assert [b["kind"] for b in db_bounces.for_subscriber(conn, reader)] == ["sender_config"]


def test_complaint_rate_pauses_a_running_campaign(runtime: Runtime, reader: int) -> None:
    uid = campaigns.create(runtime.db, name="c", subject="s", body="b", lists=["daily"]).uid
    campaign = sending.start(runtime.db, uid)
    with runtime.db.write() as conn:
        db_campaigns.update_campaign(conn, campaign.id, utcnow(), sent=1000)
    for n in range(3):
        other = subscribers.add(runtime.db, email=f"c{n}@example.com", lists=["daily"]).id
        assert campaigns.get(runtime.db, uid).status is CampaignStatus.RUNNING
        bounces.record(runtime.db, subscriber_id=other, campaign_id=campaign.id,
                       kind=BounceKind.COMPLAINT, source="arf")
    assert campaigns.get(runtime.db, uid).status is CampaignStatus.PAUSED


def test_the_smtp_intake_accepts_only_our_addresses(runtime: Runtime, reader: int) -> None:
    from tests.support.smtp_sink import _free_port

    port = _free_port("127.0.0.1")
    intake_server = server.controller(runtime.db, runtime.tokens, "127.0.0.1", port)
    intake_server.start()
    try:
        verp = links.verp_address("news.example.org", runtime.tokens, reader, 0)
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.ehlo("mx.example.net")
            assert client.docmd("MAIL FROM:<>")[0] == 250
            assert client.docmd("RCPT TO:<stranger@news.example.org>")[0] == 550
            forged = verp.replace("bounces+", "bounces+x")
            assert client.docmd(f"RCPT TO:<{forged}>")[0] == 550
            client.rset()
            client.sendmail("", [verp], messages.dsn("reader@example.com", "5.1.1",
                                                     "550 5.1.1 user unknown"))
    finally:
        intake_server.stop()
    assert _status(runtime)[0] is SubscriberStatus.BLOCKLISTED


def test_mail_to_the_unsubscribe_address_unsubscribes(runtime: Runtime, reader: int) -> None:
    from tests.support.smtp_sink import _free_port

    daily = lists.get(runtime.db, "daily").id
    token = links.unsubscribe_token(runtime.tokens, reader, daily, 0)
    mailto = links.unsubscribe_mailto("news.example.org", token)
    address = mailto.removeprefix("mailto:").split("?")[0]
    port = _free_port("127.0.0.1")
    intake_server = server.controller(runtime.db, runtime.tokens, "127.0.0.1", port)
    intake_server.start()
    try:
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.ehlo("mx.example.com")
            forged = address.replace("unsubscribe+", "unsubscribe+x")
            assert client.docmd("MAIL FROM:<reader@example.com>")[0] == 250
            assert client.docmd(f"RCPT TO:<{forged}>")[0] == 550
            client.rset()
            client.sendmail("reader@example.com", [address],
                            b"Subject: unsubscribe\r\n\r\nPlease unsubscribe me.\r\n")
    finally:
        intake_server.stop()
    profile = subscribers.profile(runtime.db, "reader@example.com")
    statuses = {profile.lists[k].slug: v.status for k, v in profile.subscriptions.items()}
    assert statuses == {"daily": SubscriptionStatus.UNSUBSCRIBED,
                        "weekly": SubscriptionStatus.CONFIRMED}
    assert profile.subscriber.status is SubscriberStatus.ENABLED
