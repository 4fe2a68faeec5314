"""Campaign sending end to end: worker → pipelined SMTP → a real aiosmtpd sink."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from tests.delivery.conftest import (
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
from tidings.domain.campaigns import CampaignStatus
from tidings.domain.deliveries import DeliveryStatus
from tidings.services import campaigns, sending


def finished(runtime: Runtime, uid: str) -> Callable[[], bool]:
    return lambda: campaigns.get(runtime.db, uid).status is CampaignStatus.FINISHED


def test_every_reader_gets_exactly_one_message(runtime: Runtime, sink: SmtpSink,
                                               run_worker: Callable[..., Running]) -> None:
    emails = audience(runtime.db, 120)
    campaign = started(runtime.db)
    engine = make_engine(runtime.db, smtp_transport(sink.url + "?pool=3"), batch_size=25)
    run_worker(engine)
    wait_until(finished(runtime, campaign.uid), what="the campaign to finish")
    received = Counter(m.rcpt_tos[0] for m in sink.messages)
    assert sorted(received) == emails
    assert set(received.values()) == {1}
    assert all(len(m.rcpt_tos) == 1 for m in sink.messages)
    assert len({m.mail_from for m in sink.messages}) == len(emails)  # VERP: one sender each
    done = campaigns.get(runtime.db, campaign.uid)
    assert (done.sent, done.failed, done.total) == (120, 0, 120)
    with runtime.db.read() as conn:
        assert ledger.counts(conn, campaign.id)[DeliveryStatus.SENT] == 120
    progress = sending.progress(runtime.db, campaign.uid)
    assert progress.remaining == 0 and progress.done
