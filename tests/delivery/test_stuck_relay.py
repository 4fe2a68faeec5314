"""A relay that refuses connections or answers 4xx for too long: seen, then paused."""

from __future__ import annotations

import socket
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
from tests.delivery.test_cli import tidings
from tests.support.smtp_sink import SmtpSink
from tidings.bootstrap import Runtime
from tidings.delivery.retry import RetryPolicy
from tidings.domain.campaigns import CampaignStatus
from tidings.services import campaigns, sending


def closed_port() -> int:
    with socket.socket() as s:  # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def paused(runtime: Runtime, uid: str) -> Callable[[], bool]:
    return lambda: campaigns.get(runtime.db, uid).status is CampaignStatus.PAUSED


def test_a_relay_refusing_connections_is_shown_backing_off(
        runtime: Runtime, run_worker: Callable[..., Running]) -> None:
    audience(runtime.db, 5)
    campaign = started(runtime.db)
    relay = f"smtp+plain://127.0.0.1:{closed_port()}"
    run_worker(make_engine(runtime, smtp_transport(relay + "?pool=2")))

    def backing_off() -> bool:
        found = sending.progress(runtime.db, campaign.uid)
        return found.state == "backing off" and any(
            r["relay"] == relay and "cannot connect" in str(r["error"])
            and float(r["backing_off"]) > 0 for r in found.relays)
    wait_until(backing_off, what="the relay's error and back-off in the status")

    def shown_by_the_command() -> bool:
        # The status is a snapshot: one taken in the instant between two failed
        # connections shows the error without a back-off, so ask again.
        status = tidings(runtime, "campaigns", "status", campaign.uid)
        assert status.returncode == 0, status.stderr
        assert f"Relay {relay}: cannot connect" in status.stdout
        return "backing off, next try in" in status.stdout
    wait_until(shown_by_the_command, what="`campaigns status` to show the back-off")
    assert campaigns.get(runtime.db, campaign.uid).status is CampaignStatus.RUNNING


def test_a_campaign_without_progress_pauses_itself_with_the_reason(
        runtime: Runtime, run_worker: Callable[..., Running]) -> None:
    audience(runtime.db, 5)
    campaign = started(runtime.db)
    relay = f"smtp+plain://127.0.0.1:{closed_port()}"
    run_worker(make_engine(runtime, smtp_transport(relay), stall_timeout=1.0))
    wait_until(paused(runtime, campaign.uid), what="the campaign to pause itself")
    error = sending.progress(runtime.db, campaign.uid).error or ""
    assert "without any message answered" in error and f"{relay}: cannot connect" in error
    status = tidings(runtime, "campaigns", "status", campaign.uid, "--json")
    assert status.returncode == 0, status.stderr
    assert "without any message answered" in status.stdout
    assert campaigns.get(runtime.db, campaign.uid).sent == 0


def test_a_relay_answering_4xx_to_everything_pauses_and_resume_finishes(
        runtime: Runtime, sink: SmtpSink, run_worker: Callable[..., Running]) -> None:
    emails = audience(runtime.db, 6)
    for email in emails:
        sink.script(email, *["451 4.3.0 Queue full, try later"] * 20)
    campaign = started(runtime.db)
    # Enough attempts that no reader gives up before the campaign pauses.
    patient = RetryPolicy(base=0.2, factor=2.0, cap=5.0, max_attempts=50)
    run_worker(make_engine(runtime, smtp_transport(sink.url + "?pool=2"), policy=patient,
                           stall_timeout=1.0))
    wait_until(paused(runtime, campaign.uid), what="the campaign to pause itself")
    assert "451 4.3.0 Queue full" in (sending.progress(runtime.db, campaign.uid).error or "")
    assert not sink.messages
    sink.unscript()  # the relay works again
    sending.resume(runtime.db, campaign.uid)
    wait_until(lambda: campaigns.get(runtime.db, campaign.uid).status
               is CampaignStatus.FINISHED, what="the campaign to finish")
    received = Counter(m.rcpt_tos[0] for m in sink.messages)
    assert sorted(received) == emails and set(received.values()) == {1}
    assert sending.progress(runtime.db, campaign.uid).error is None
