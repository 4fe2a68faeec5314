"""Campaign sending throughput: Tidings' engine vs. the smtp-source ceiling, same sink.

For each audience size and DKIM mode, a fresh process builds an SQLite database with
that many confirmed readers, a ~20 KB HTML issue personalised per reader, and sends
it through the real worker (ledger, pipelined SMTP pool) into Postfix's smtp-sink on
loopback. The ceiling is smtp-source (8 sessions, connections kept open) sending
messages of the same size into the same sink in the same run.

    python bench/send.py                       # 20,000 and 200,000, DKIM off and RSA
    python bench/send.py --sizes 20000 --dkim off

Prints messages per second, the ceiling, their ratio, the peak RSS (VmHWM) of the
sending process and of one render process, and the CPU time per message of each.
Needs /usr/sbin/smtp-sink and /usr/sbin/smtp-source (never starts postfix).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import insert  # noqa: E402

from tidings import bootstrap, config  # noqa: E402
from tidings.db import migrate  # noqa: E402
from tidings.db.deliveries import Reader  # noqa: E402
from tidings.db.tables import lists, subscribers, subscriptions  # noqa: E402
from tidings.delivery import setup  # noqa: E402
from tidings.delivery.worker import Worker, new_loop  # noqa: E402
from tidings.domain.campaigns import BodyFormat, CampaignStatus  # noqa: E402
from tidings.domain.timezones import utcnow  # noqa: E402
from tidings.mail import dkim  # noqa: E402
from tidings.services import campaigns, runtime_settings, sending  # noqa: E402

SINK = "/usr/sbin/smtp-sink"
SOURCE = "/usr/sbin/smtp-source"
POOL = 8
SECRET = "bench-secret-0123456789"

PARAGRAPH = (
    "<p>City council members met late on Tuesday to debate the proposed budget for the "
    "coming year, which includes new funding for public transport, libraries and the "
    "renovation of three primary schools. <a href=\"https://example.org/story/{n}\">Read "
    "the full story</a> on our website, where you will also find the documents.</p>\n")


def issue_html() -> str:
    """A realistic issue: headline, personal greeting, ~20 KB of stories and links."""
    stories = []
    for n in range(20):
        stories.append(f"<h2>Story {n + 1}: what changed this week</h2>\n"
                       + PARAGRAPH.replace("{n}", str(n)) * 1)
    return ("<h1>The Morning Briefing</h1>\n<p>Good morning {{ subscriber.name }},</p>\n"
            + "".join(stories) + "<p>Thanks for reading, {{ subscriber.name }}.</p>\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_sink(port: int) -> Iterator[None]:
    proc = subprocess.Popen([SINK, "-u", "nobody", "-m", "1024", f"127.0.0.1:{port}",
                             "1024"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("smtp-sink did not start")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(5)


def ceiling(port: int, count: int, size: int) -> float:
    start = time.perf_counter()
    subprocess.run([SOURCE, "-s", "8", "-m", str(count), "-M", "localhost", "-f",
                    "news@example.org", "-t", "reader@example.com", "-d", "-l", str(size),
                    f"127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL)
    return count / (time.perf_counter() - start)


def populate(runtime: bootstrap.Runtime, count: int) -> None:
    now = utcnow()
    with runtime.db.write() as conn:
        conn.execute(insert(lists).values(uid="benchlist000000a", slug="briefing",
                                          name="The Morning Briefing", description="",
                                          visibility="public", optin="single",
                                          created_at=now, updated_at=now))
        step = 20_000
        for first in range(1, count + 1, step):
            ids = range(first, min(first + step, count + 1))
            conn.execute(insert(subscribers), [
                {"id": i, "uid": f"bench{i:011d}", "email": f"reader{i}@example.com",
                 "name": f"Reader {i}", "attributes": {"city": "Oslo"}, "status": "enabled",
                 "created_at": now, "updated_at": now} for i in ids])
            conn.execute(insert(subscriptions), [
                {"subscriber_id": i, "list_id": 1, "status": "confirmed", "confirmed_at": now,
                 "created_at": now, "updated_at": now} for i in ids])


def settings_for(directory: Path, port: int) -> config.Settings:
    return config.load(environ={}, data_dir=directory, secret_key=SECRET,
                       base_url="https://news.example.org",
                       smtp_url=f"smtp+plain://127.0.0.1:{port}?pool={POOL}")


def prepare(directory: Path, count: int, mode: str, port: int) -> str:
    """The database: ``count`` readers, settings, a draft; return the draft's id."""
    runtime = bootstrap.build(settings_for(directory, port))
    migrate.upgrade(runtime.db)
    populate(runtime, count)
    values: dict[str, object] = {"publisher.name": "The Morning Briefing",
                                 "publisher.postal_address": "1 Example Street, Oslo",
                                 "mail.from_email": "briefing@news.example.org"}
    if mode == "rsa":
        key = dkim.generate_key("news.example.org", "bench", "rsa-sha256").key
        values["dkim.keys"] = [{"domain": key.domain, "selector": key.selector,
                                "algorithm": str(key.algorithm),
                                "private_key": key.private_key}]
    runtime_settings.update(runtime.db, values)
    draft = campaigns.create(runtime.db, name="Bench",
                             subject="Briefing for {{ subscriber.name }}",
                             body=issue_html(), body_format=BodyFormat.HTML,
                             lists=["briefing"])
    runtime.close()
    return str(draft.id)  # an integer id: a uid may start with "-"


def peak_rss_mb(pid: int | str = "self") -> float:
    """The peak resident memory of a process (VmHWM).

    Not ``ru_maxrss``: a process started by fork and exec inherits in it the resident
    size of its parent at the fork (the bench's own, after building a database of
    200,000 readers), which made the sending process look bigger with the audience.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children() -> list[int]:
    found = []
    for task in Path("/proc/self/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def run_case(directory: Path, uid: str, port: int) -> dict[str, object]:
    """Send the prepared campaign, in this fresh process, and measure."""
    runtime = bootstrap.build(settings_for(directory, port))
    engine = setup.engine_for(runtime)
    draft = campaigns.get(runtime.db, uid)
    sample = engine.compose(runtime.db, draft)
    size = len(sample.render(Reader(1, "x", "reader1@example.com", "Reader 1", {}, (1,))).data)

    async def send() -> float:
        stop = asyncio.Event()
        worker = Worker(engine, outbox=False, schedules=False, heartbeat=False)
        task = asyncio.create_task(worker.run(stop))
        # A worker waits for campaigns with its render processes started, as a running
        # `tidings serve` or `tidings worker` does; the campaign starts once it is ready.
        await worker.ready.wait()
        start = time.perf_counter()
        # Through the engine's own connections, as the worker and `send --wait` do.
        await asyncio.to_thread(sending.start, engine.db, uid)
        while (await asyncio.to_thread(campaigns.get, engine.db, uid)).status \
                is CampaignStatus.RUNNING:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
        renderers.extend(peak_rss_mb(pid) for pid in children())
        stop.set()
        await task
        return elapsed

    renderers: list[float] = []

    before = resource.getrusage(resource.RUSAGE_SELF)
    loop = new_loop()
    elapsed = loop.run_until_complete(send())  # the render processes end with the worker
    loop.close()
    done = campaigns.get(runtime.db, uid)
    runtime.close()
    own, kids = resource.getrusage(resource.RUSAGE_SELF), \
        resource.getrusage(resource.RUSAGE_CHILDREN)
    main_cpu = own.ru_utime + own.ru_stime - before.ru_utime - before.ru_stime
    return {"size": size, "sent": done.sent, "failed": done.failed,
            "rate": done.sent / elapsed, "elapsed": elapsed,
            "rss_mb": peak_rss_mb(), "child_rss_mb": max(renderers, default=0.0),
            "main_us": main_cpu / done.sent * 1e6,
            "render_us": (kids.ru_utime + kids.ru_stime) / done.sent * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--dkim", nargs="+", default=["off", "rsa"], choices=["off", "rsa"])
    parser.add_argument("--case", nargs=3, metavar=("DIR", "UID", "PORT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        result = run_case(Path(args.case[0]), args.case[1], int(args.case[2]))
        print(json.dumps(result))
        return
    port = free_port()
    rows = []
    with smtp_sink(port):
        for count in args.sizes:
            for mode in args.dkim:
                with tempfile.TemporaryDirectory() as tmp:
                    uid = prepare(Path(tmp), count, mode, port)
                    out = subprocess.run([sys.executable, __file__, "--case", tmp, uid,
                                          str(port)], check=True, capture_output=True,
                                         text=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                result.update(count=count, mode=mode)
                top = ceiling(port, min(count, 50_000), int(result["size"]))
                rows.append((result, top))
                print(f"  {count:>7,} readers, DKIM {mode:<3}: {result['rate']:>7,.0f} msg/s "
                      f"(ceiling {top:,.0f})", file=sys.stderr)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{'readers':>8} {'DKIM':>5} {'size':>7} {'Tidings msg/s':>14} "
          f"{'ceiling msg/s':>14} {'ratio':>6} {'peak RSS':>9} {'renderer':>9} "
          f"{'CPU µs/msg':>16}")
    for result, top in rows:
        print(f"{result['count']:>8,} {result['mode']:>5} {result['size']:>7,} "
              f"{result['rate']:>14,.0f} {top:>14,.0f} {result['rate'] / top:>6.2f} "
              f"{result['rss_mb']:>6.0f} MB {result['child_rss_mb']:>6.0f} MB "
              f"{result['main_us']:>7.0f} + {result['render_us']:>4.0f}")
    print(f"\nload average {load}; {os.cpu_count()} cores; pool {POOL} connections; "
          "renderer: peak RSS of one render process; CPU: sending process + render "
          "processes")


if __name__ == "__main__":
    main()
