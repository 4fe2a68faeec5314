"""Signups per second through ``tidings serve`` on SQLite, beside a bare route.

Starts ``tidings serve`` (one process, SQLite in a scratch directory) and drives it from
this process over loopback with a small asyncio HTTP/1.1 client: a fixed number of
keep-alive connections, each sending its next request as soon as the answer arrives.
Phases, each the same length:

* ``GET /healthz``                    the ceiling: the same server, a bare route
* ``POST /api/public/subscriptions``  a signup as the embedded form's script sends it
* ``POST /subscribe``                 a signup as the hosted page's plain form sends it

Every signup is a new address on a double opt-in list, so each one writes a
subscriber, a consent record, a subscription and a queued confirmation. Afterwards the
database is checked: one subscriber, one consent record and one confirmation per
accepted signup, nothing more. Errors (non-2xx answers, broken connections) are counted
and make the run fail.

The per-IP limit would stop a load from one address, so the run turns it off with the
runtime setting ``signup.ip_limit = 0`` (documented; do not do that on a public server
unless the proxy limits signups). The fill-time check stays on: the forms carry a
genuine render time signed with the run's secret key, ten seconds old.

Run: ``.venv/bin/python bench/signup.py [--seconds 10] [--connections 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tidings import bootstrap, config  # noqa: E402
from tidings.mail.tokens import Purpose  # noqa: E402
from tidings.services import lists, runtime_settings, signups  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef"


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies)

    def row(self) -> str:
        ordered = sorted(self.latencies) or [0.0]

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

        rate = self.ok / self.elapsed if self.elapsed else 0.0
        return (f"| {self.name} | {self.ok:,} | {rate:,.0f} | {pct(0.50):.1f} | "
                f"{pct(0.90):.1f} | {pct(0.99):.1f} | {max(ordered) * 1000:.1f} | "
                f"{self.errors} |")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response; return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def connection(port: int, phase: Phase, make_request: object, deadline: float,
                     counter: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            counter[0] += 1
            request = make_request(counter[0])  # type: ignore[operator]
            start = time.perf_counter()
            writer.write(request)
            try:
                status = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                phase.errors += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            phase.statuses[status] = phase.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                phase.latencies.append(time.perf_counter() - start)
            else:
                phase.errors += 1
    finally:
        writer.close()


async def run_phase(port: int, name: str, make_request: object, seconds: float,
                    connections: int) -> Phase:
    phase = Phase(name)
    counter = [0]
    start = time.perf_counter()
    await asyncio.gather(*(connection(port, phase, make_request, start + seconds, counter)
                           for _ in range(connections)))
    phase.elapsed = time.perf_counter() - start
    return phase


def http(method: str, path: str, body: bytes = b"", content_type: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n"
    if body:
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def wait_for_server(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("tidings serve exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("tidings serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tidings-bench-"))
    url = f"sqlite:///{work / 'tidings.db'}"
    settings = config.load(environ={}, data_dir=work, database_url=url, secret_key=SECRET)
    runtime = bootstrap.prepare(settings)
    daily = lists.create(runtime.db, slug="daily", name="The Daily Brief")
    runtime_settings.update(runtime.db, {"signup.ip_limit": 0})
    consent_hash = signups.remember_consent_text(
        runtime.db, signups.current_consent_text(runtime.db))
    form_token = runtime.tokens.sign(Purpose.SIGNUP_FORM, int(time.time()) - 10)
    runtime.close()

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TIDINGS_DATA_DIR": str(work),
           "TIDINGS_DATABASE_URL": url, "TIDINGS_SECRET_KEY": SECRET,
           "TIDINGS_LOG_LEVEL": "warning", "TIDINGS_INLINE_WORKER": "false"}
    server = subprocess.Popen([sys.executable, "-m", "tidings", "serve", "--port", str(port)],
                              env=env, cwd=work, stdout=subprocess.DEVNULL)
    try:
        wait_for_server(port, server)
        healthz = http("GET", "/healthz")

        def api(i: int) -> bytes:
            body = json.dumps({"email": f"api{i}@example.com", "lists": [daily.uid],
                               "consent": True, "form_token": form_token,
                               "consent_hash": consent_hash}).encode()
            return http("POST", "/api/public/subscriptions", body, "application/json")

        def form(i: int) -> bytes:
            body = urlencode({"email": f"form{i}@example.com", "lists": daily.uid,
                              "ts": form_token, "consent_hash": consent_hash}).encode()
            return http("POST", "/subscribe", body, "application/x-www-form-urlencoded")

        async def run() -> list[Phase]:
            await run_phase(port, "warm-up", lambda i: healthz, 1.0, args.connections)
            return [
                await run_phase(port, "`GET /healthz` (ceiling)", lambda i: healthz,
                                args.seconds, args.connections),
                await run_phase(port, "`POST /api/public/subscriptions`", api, args.seconds,
                                args.connections),
                await run_phase(port, "`POST /subscribe` (form)", form, args.seconds,
                                args.connections),
            ]

        try:
            import uvloop
            phases = uvloop.run(run())
        except ImportError:
            phases = asyncio.run(run())
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    runtime = bootstrap.build(settings)
    with runtime.db.read() as conn:
        def count(sql: str) -> int:
            return int(conn.exec_driver_sql(sql).scalar_one())

        stored = count("SELECT count(*) FROM subscribers")
        consent_rows = count("SELECT count(*) FROM consents WHERE action = 'signup'")
        with_consent = count("SELECT count(DISTINCT subscriber_id) FROM consents")
        pending = count("SELECT count(*) FROM subscriptions WHERE status = 'unconfirmed'")
        queued = count("SELECT count(*) FROM outbox WHERE kind = 'confirmation'")
    runtime.close()
    accepted = phases[1].ok + phases[2].ok

    print(f"\nSignup load: {args.connections} keep-alive connections, {args.seconds:.0f} s a "
          f"phase, tidings serve on SQLite (one process), client in a second process; "
          f"{os.cpu_count()} CPUs.\n")
    print("| route | requests | per second | p50 ms | p90 ms | p99 ms | max ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for phase in phases:
        print(phase.row())
    print(f"\nAccepted signups {accepted:,}; stored: subscribers {stored:,}, signup consent "
          f"records {consent_rows:,} (subscribers with one: {with_consent:,}), pending "
          f"subscriptions {pending:,}, queued confirmations {queued:,}.")
    errors = sum(p.errors for p in phases)
    consistent = accepted == stored == consent_rows == with_consent == pending == queued
    print("Check:", "every signup stored exactly once with its consent record"
          if consistent else "MISMATCH", f"; errors: {errors}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("Kept", work)
    if errors or not consistent:
        for phase in phases:
            print(phase.name, phase.statuses)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
