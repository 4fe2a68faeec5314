"""A worker killed with SIGKILL mid-campaign: the next one misses nobody."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.delivery.conftest import audience, started, wait_until
from tests.support.smtp_sink import SmtpSink
from tidings.bootstrap import Runtime
from tidings.db import deliveries as ledger
from tidings.domain.campaigns import CampaignStatus
from tidings.domain.deliveries import DeliveryStatus
from tidings.services import campaigns

ROOT = Path(__file__).resolve().parents[2]


def worker(runtime: Runtime, smtp_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(TIDINGS_DATABASE_URL=runtime.settings.database_url,
               TIDINGS_SECRET_KEY=runtime.settings.secret_key,
               TIDINGS_BASE_URL=runtime.settings.base_url, TIDINGS_SMTP_URL=smtp_url,
               TIDINGS_DATA_DIR=str(runtime.settings.data_dir), PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen([sys.executable, "-m", "tidings", "worker"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def test_kill_9_mid_campaign_then_restart_misses_nobody(runtime: Runtime, tmp_path: Path) -> None:
    emails = audience(runtime.db, 400)
    campaign = started(runtime.db)
    log = tmp_path / "worker.log"
    with SmtpSink(pipelining=True) as sink:
        url = sink.url + "?pool=2&rate=150"
        first = worker(runtime, url, log)
        try:
            wait_until(lambda: len(sink.messages) >= 150, timeout=60, what="150 sent")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)  # reaped: the next worker sees its pid is gone
        with runtime.db.read() as conn:
            in_flight = ledger.counts(conn, campaign.id)[DeliveryStatus.CLAIMED]
        assert len(sink.messages) < 400, "the kill came too late to test anything"
        second = worker(runtime, url, log)
        try:
            wait_until(lambda: campaigns.get(runtime.db, campaign.uid).status
                       is CampaignStatus.FINISHED, timeout=60, what="the campaign to finish")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log.read_text()
        received = Counter(m.rcpt_tos[0] for m in sink.messages)
    duplicates = sum(received.values()) - len(received)
    print(f"\nkill -9 recovery: {in_flight} rows in flight at the kill, "
          f"{duplicates} duplicates after the restart")
    assert sorted(received) == emails  # nobody missed
    assert duplicates <= in_flight
    done = campaigns.get(runtime.db, campaign.uid)
    assert done.sent == 400
