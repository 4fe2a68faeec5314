"""``tidings campaigns send --wait`` and friends, as real subprocesses."""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.delivery.conftest import audience, wait_until
from tidings.bootstrap import Runtime
from tidings.db import campaigns as db_campaigns
from tidings.domain.timezones import utcnow
from tidings.services import campaigns, sending

ROOT = Path(__file__).resolve().parents[2]


def tidings(runtime: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(TIDINGS_DATABASE_URL=runtime.settings.database_url,
               TIDINGS_SECRET_KEY=runtime.settings.secret_key,
               TIDINGS_BASE_URL=runtime.settings.base_url,
               TIDINGS_DATA_DIR=str(runtime.settings.data_dir),
               PYTHONPATH=str(ROOT / "src"), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "tidings", *args], env=env, text=True,
                          capture_output=True, timeout=20, check=False)


def test_send_wait_delivers_into_the_capture_outbox_without_a_worker(runtime: Runtime) -> None:
    emails = audience(runtime.db, 25)
    draft = campaigns.create(runtime.db, name="Issue 7",
                             subject="Hello {{ subscriber.name }}",
                             body="Hi **{{ subscriber.name }}**", lists=["news"])
    result = tidings(runtime, "campaigns", "send", str(draft.id), "--wait")
    assert result.returncode == 0, result.stderr
    assert "sending from this process" in result.stdout
    assert "finished, 25 sent" in result.stdout
    files = sorted((runtime.settings.data_dir / "outbox").glob("*.eml"))
    assert len(files) == 25
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
              for f in files]
    assert sorted(str(p["Delivered-To"]) for p in parsed) == emails
    assert all(p["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for p in parsed)
    assert {str(p["Subject"]) for p in parsed} == {f"Hello {e.split('@')[0]}" for e in emails}
    status = json.loads(tidings(runtime, "campaigns", "status", str(draft.id), "--json").stdout)
    assert (status["status"], status["sent"], status["remaining"]) == ("finished", 25, 0)


def test_pause_resume_cancel_answer_and_refuse_impossible_moves(runtime: Runtime) -> None:
    audience(runtime.db, 3)
    draft = campaigns.create(runtime.db, name="x", subject="s", body="b", lists=["news"])
    refused = tidings(runtime, "campaigns", "pause", str(draft.id))
    assert refused.returncode == 1 and refused.stderr.startswith("error: ")
    assert tidings(runtime, "campaigns", "send", str(draft.id)).returncode == 0
    assert "Paused" in tidings(runtime, "campaigns", "pause", str(draft.id)).stdout
    assert "Resumed" in tidings(runtime, "campaigns", "resume", str(draft.id)).stdout
    assert "Cancelled" in tidings(runtime, "campaigns", "cancel", str(draft.id)).stdout
    assert campaigns.get(runtime.db, draft.uid).status.value == "cancelled"


def test_a_campaign_that_cannot_be_built_is_paused_with_the_reason(runtime: Runtime) -> None:
    audience(runtime.db, 2)
    draft = campaigns.create(runtime.db, name="Broken", subject="Hi", body="b", lists=["news"])
    with runtime.db.write() as conn:  # saving refuses such a subject; it was stored before
        db_campaigns.update_campaign(conn, draft.id, utcnow(), subject="Hi {{ reader.name }}")
    result = tidings(runtime, "campaigns", "send", str(draft.id), "--wait")
    assert result.returncode == 0, result.stderr
    assert "paused" in result.stdout and "The worker paused it" in result.stdout
    status = json.loads(tidings(runtime, "campaigns", "status", str(draft.id), "--json").stdout)
    assert status["status"] == "paused" and "reader" in status["error"]
    assert not list((runtime.settings.data_dir / "outbox").glob("*.eml"))


def test_serve_sends_with_its_inline_worker_and_stops_cleanly(runtime: Runtime) -> None:
    emails = audience(runtime.db, 5)
    draft = campaigns.create(runtime.db, name="Inline", subject="Hi", body="b", lists=["news"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(TIDINGS_DATABASE_URL=runtime.settings.database_url,
               TIDINGS_SECRET_KEY=runtime.settings.secret_key,
               TIDINGS_BASE_URL=runtime.settings.base_url,
               TIDINGS_DATA_DIR=str(runtime.settings.data_dir),
               TIDINGS_PORT=str(free_port()), PYTHONPATH=str(ROOT / "src"))
    server = subprocess.Popen([sys.executable, "-m", "tidings", "serve"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        sending.start(runtime.db, draft.uid)
        outbox = runtime.settings.data_dir / "outbox"
        wait_until(lambda: campaigns.get(runtime.db, draft.uid).status.value == "finished",
                   timeout=60, what="the inline worker to send the campaign")
        assert len(list(outbox.glob("*.eml"))) == len(emails)
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output
    assert "worker" in output and "stopped" in output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
