"""Campaign sending end to end: worker → pipelined SMTP → a real aiosmtpd sink."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import select

from tests.delivery.conftest import (
    FAST_RETRY,
    Running,
    audience,
    make_engine,
    smtp_transport,
    started,
    wait_until,
)
from tests.support.smtp_sink import SmtpSink
from tidings.bootstrap import Runtime
from tidings.db import deliveries as ledger
from tidings.db import subscribers as db_subscribers
from tidings.db import subscriptions as db_subscriptions
from tidings.db.tables import bounces, deliveries, leases
from tidings.delivery.rendering import RenderPool
from tidings.domain.campaigns import CampaignStatus
from tidings.domain.deliveries import DeliveryStatus
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.services import campaigns, runtime_settings, sending, subscribers, suppressions


def finished(runtime: Runtime, uid: str) -> Callable[[], bool]:
    return lambda: campaigns.get(runtime.db, uid).status is CampaignStatus.FINISHED


@pytest.mark.parametrize("processes", [0, 1], ids=["inline", "render-process"])
def test_every_reader_gets_exactly_one_message(runtime: Runtime, sink: SmtpSink,
                                               run_worker: Callable[..., Running],
                                               processes: int) -> None:
    emails = audience(runtime.db, 120)
    campaign = started(runtime.db)
    engine = make_engine(runtime, smtp_transport(sink.url + "?pool=3"), batch_size=25,
                         render_pool=RenderPool(processes) if processes else None)
    run_worker(engine)
    wait_until(finished(runtime, campaign.uid), what="the campaign to finish")
    received = Counter(m.rcpt_tos[0] for m in sink.messages)
    assert sorted(received) == emails
    assert set(received.values()) == {1}
    assert all(len(m.rcpt_tos) == 1 for m in sink.messages)
    assert len({m.mail_from for m in sink.messages}) == len(emails)  # VERP: one sender each
    for m in sink.messages[:5]:  # each reader's own message, not a neighbour's
        assert m.message["To"].addresses[0].addr_spec == m.rcpt_tos[0]
    done = campaigns.get(runtime.db, campaign.uid)
    assert (done.sent, done.failed, done.total) == (120, 0, 120)
    with runtime.db.read() as conn:
        assert ledger.counts(conn, campaign.id)[DeliveryStatus.SENT] == 120
    progress = sending.progress(runtime.db, campaign.uid)
    assert progress.remaining == 0 and progress.done


def test_temporary_refusals_are_retried_with_growing_delays(
        runtime: Runtime, sink: SmtpSink, run_worker: Callable[..., Running]) -> None:
    emails = audience(runtime.db, 12)
    sink.script(emails[3], "451 4.3.0 Try again later", "451 4.3.0 Still busy")
    sink.script(emails[7], "421 4.7.0 Slow down", stage="rcpt")
    campaign = started(runtime.db)
    engine = make_engine(runtime, smtp_transport(sink.url + "?pool=2"))
    run_worker(engine)
    wait_until(finished(runtime, campaign.uid), what="the campaign to finish")
    received = Counter(m.rcpt_tos[0] for m in sink.messages)
    assert sorted(received) == emails and set(received.values()) == {1}
    tries = sink.attempts[emails[3]]
    assert len(tries) == 3
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    # The worker never retries before the scheduled back-off: base, then twice base.
    assert gaps[0] >= FAST_RETRY.base and gaps[1] >= FAST_RETRY.base * FAST_RETRY.factor
    assert len(sink.attempts[emails[7]]) == 2
    with runtime.db.read() as conn:
        rows = {r.subscriber_id: r for r in conn.execute(
            select(deliveries).where(deliveries.c.campaign_id == campaign.id))}
    assert rows[4].attempts == 3 and rows[4].status == "sent"
    assert campaigns.get(runtime.db, campaign.uid).sent == 12


def test_permanent_refusals_are_recorded_once_and_never_retried(
        runtime: Runtime, sink: SmtpSink, run_worker: Callable[..., Running]) -> None:
    emails = audience(runtime.db, 10)
    sink.script(emails[2], "550 5.1.1 No such mailbox", stage="rcpt")
    sink.script(emails[5], "554 5.7.1 Rejected for policy reasons")
    campaign = started(runtime.db)
    run_worker(make_engine(runtime, smtp_transport(sink.url + "?pool=2")))
    wait_until(finished(runtime, campaign.uid), what="the campaign to finish")
    assert len(sink.attempts[emails[2]]) == 1 and len(sink.attempts[emails[5]]) == 1
    assert len(sink.messages) == 8
    done = campaigns.get(runtime.db, campaign.uid)
    assert (done.sent, done.failed) == (8, 2)
    with runtime.db.read() as conn:
        failed = {r.subscriber_id: r for r in conn.execute(
            select(deliveries).where(deliveries.c.status == "failed"))}
    assert failed[3].smtp_code == 550 and "5.1.1" in (failed[3].smtp_response or "")
    assert failed[6].smtp_code == 554 and failed[6].attempts == 1


def test_refusals_while_sending_are_handled_like_returned_bounces(
        runtime: Runtime, sink: SmtpSink, run_worker: Callable[..., Running]) -> None:
    emails = audience(runtime.db, 8)
    runtime_settings.update(runtime.db, {"bounce.soft_threshold": 1})
    sink.script(emails[1], "550 5.1.1 <r0001@example.com>: Recipient address rejected: "
                           "User unknown", stage="rcpt")
    sink.script(emails[3], "552 5.2.2 Mailbox full")
    sink.script(emails[5], "550 5.7.26 Unauthenticated email is not accepted (DMARC)")
    sink.script(emails[6], "451 4.3.0 Try again later")  # retried, not a bounce
    campaign = started(runtime.db)
    run_worker(make_engine(runtime, smtp_transport(sink.url + "?pool=2")))
    wait_until(finished(runtime, campaign.uid), what="the campaign to finish")
    with runtime.db.read() as conn:
        found = [(b.subscriber_id, b.kind, b.source, b.status_code, b.campaign_id)
                 for b in conn.execute(select(bounces).order_by(bounces.c.subscriber_id))]
    assert found == [(2, "hard", "smtp", "5.1.1", campaign.id),
                     (4, "soft", "smtp", "5.2.2", campaign.id),
                     (6, "sender_config", "smtp", "5.7.26", campaign.id)]

    def status(email: str) -> SubscriberStatus:
        return subscribers.get(runtime.db, email).status

    # Hard: blocklisted and suppressed at once, as a returned DSN would do.
    assert status(emails[1]) is SubscriberStatus.BLOCKLISTED
    assert suppressions.is_suppressed(runtime.db, emails[1])
    # Soft: counted; here the threshold is one, so blocklisted but not suppressed.
    assert status(emails[3]) is SubscriberStatus.BLOCKLISTED
    assert not suppressions.is_suppressed(runtime.db, emails[3])
    # The sender's configuration is at fault, never the reader.
    assert status(emails[5]) is SubscriberStatus.ENABLED
    assert status(emails[6]) is SubscriberStatus.ENABLED
    assert len(sink.to(emails[6])) == 1


def test_pause_stops_sending_and_resume_finishes_without_gaps_or_repeats(
        runtime: Runtime, sink: SmtpSink, run_worker: Callable[..., Running]) -> None:
    emails = audience(runtime.db, 60)
    campaign = started(runtime.db)
    engine = make_engine(runtime, smtp_transport(sink.url + "?pool=2&rate=40"), max_rate=40)
    run_worker(engine)
    wait_until(lambda: len(sink.messages) >= 10, what="some messages")
    sending.pause(runtime.db, campaign.uid)
    wait_until(lambda: stopped(runtime, campaign.uid), what="the worker to let go")
    paused_count = len(sink.messages)
    assert paused_count < 60
    time.sleep(0.6)  # several watch intervals: nothing more may arrive while paused
    assert len(sink.messages) == paused_count
    sending.resume(runtime.db, campaign.uid)
    wait_until(finished(runtime, campaign.uid), what="the campaign to finish")
    received = Counter(m.rcpt_tos[0] for m in sink.messages)
    assert sorted(received) == emails and set(received.values()) == {1}


def test_cancel_stops_for_good(runtime: Runtime, sink: SmtpSink,
                               run_worker: Callable[..., Running]) -> None:
    audience(runtime.db, 60)
    campaign = started(runtime.db)
    run_worker(make_engine(runtime, smtp_transport(sink.url + "?pool=1&rate=40"),
                           max_rate=40))
    wait_until(lambda: len(sink.messages) >= 5, what="some messages")
    sending.cancel(runtime.db, campaign.uid)
    wait_until(lambda: stopped(runtime, campaign.uid), what="the worker to let go")
    count = len(sink.messages)
    time.sleep(0.6)
    assert len(sink.messages) == count < 60
    assert len({m.rcpt_tos[0] for m in sink.messages}) == count
    assert campaigns.get(runtime.db, campaign.uid).status is CampaignStatus.CANCELLED


def test_a_reader_who_unsubscribes_mid_campaign_is_skipped(
        runtime: Runtime, sink: SmtpSink, run_worker: Callable[..., Running]) -> None:
    emails = audience(runtime.db, 100)
    campaign = started(runtime.db)
    run_worker(make_engine(runtime, smtp_transport(sink.url + "?pool=1&rate=40"),
                           max_rate=40))
    wait_until(lambda: len(sink.messages) >= 3, what="the first messages")
    # Claims run at most two half-second chunks (40 readers) ahead of the relay.
    leaving = emails[-1]
    with runtime.db.write() as conn:  # what the one-click unsubscribe does to the row
        reader = db_subscribers.get_by_email(conn, leaving)
        assert reader is not None
        existing = db_subscriptions.for_subscriber(conn, reader.id)
        for list_id, sub in existing.items():
            db_subscriptions.put(conn, reader.id, list_id, SubscriptionStatus.UNSUBSCRIBED,
                                 utcnow(), existing=sub)
    wait_until(finished(runtime, campaign.uid), what="the campaign to finish")
    received = {m.rcpt_tos[0] for m in sink.messages}
    assert leaving not in received and received == set(emails) - {leaving}
    with runtime.db.read() as conn:
        assert ledger.counts(conn, campaign.id)[DeliveryStatus.SKIPPED] == 1
    progress = sending.progress(runtime.db, campaign.uid)
    assert (progress.sent, progress.skipped, progress.remaining) == (99, 1, 0)


def stopped(runtime: Runtime, uid: str) -> bool:
    """The worker let go of the campaign (its lease is released)."""
    campaign = campaigns.get(runtime.db, uid)
    with runtime.db.read() as conn:
        return not conn.execute(select(leases).where(
            leases.c.name == f"campaign:{campaign.id}")).first()
