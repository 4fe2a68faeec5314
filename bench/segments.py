"""Segments, previews and RSS digests, each beside a ceiling measured in the same run.

* segment count: ``tidings.services.segments.count`` of a three-condition segment (a
  JSON attribute, a list membership, a date) over N subscribers, on SQLite and
  PostgreSQL; beside it a bare ``COUNT(*)`` of the table and the same count over the
  attribute alone written by hand in SQL. Also a segment whose attribute test is a
  range (no index serves it) and the audience of a campaign to a list and a segment.
* preview: ``campaigns.preview`` of a 20 KB Markdown issue for one subscriber (compile
  and render, as the admin UI does it), beside the Markdown-to-HTML step alone and the
  engine's per-reader render of an already compiled campaign.
* digest: ``feeds.run`` turning a local 50-item feed into a digest campaign, beside
  fetching the same feed with httpx and parsing it with feedparser.

The databases are built once (``--rebuild`` to start over) and kept:
``/tmp/tidings-bench-segments-<rows>.db`` and the PostgreSQL database
``tidings_bench_segments_<rows>``.

    .venv/bin/python bench/segments.py --rows 100000        # a quick run
    .venv/bin/python bench/segments.py                      # 1,000,000 subscribers
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from tests.support.feed_server import FeedServer, Response, many, rss  # noqa: E402

from tidings.db import audience, migrate  # noqa: E402
from tidings.db.database import Database, open_database  # noqa: E402
from tidings.domain.campaigns import BodyFormat  # noqa: E402
from tidings.domain.lists import OptIn  # noqa: E402
from tidings.mail import content  # noqa: E402
from tidings.mail.campaign import compile_campaign  # noqa: E402
from tidings.mail.context import Recipient, Sender  # noqa: E402
from tidings.mail.tokens import TokenSigner  # noqa: E402
from tidings.services import campaigns, feeds, lists, segments, subscribers  # noqa: E402
from tidings.services.fetcher import Fetcher  # noqa: E402

PG_ADMIN = os.environ.get("TIDINGS_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CITIES = ["Oslo", "Bergen", "Zürich", "São Paulo", "Kraków", "Lyon", "Berlin", "Dublin",
          "Kyoto", "Austin", "Nairobi", "Lima", "Hanoi", "Porto", "Tromsø", "Riga", "Perth",
          "Quito", "Cork", "Turku"]
PLANS = ["free", "reader", "supporter", "patron"]
NOW = datetime(2026, 11, 1, tzinfo=UTC)
THREE = {"all": [{"field": "attributes.city", "op": "eq", "value": "Oslo"},
                 {"field": "list", "op": "confirmed", "value": "daily"},
                 {"field": "created_at", "op": "within_last_days", "value": 365}]}
RANGE = {"all": [{"field": "attributes.age", "op": "gte", "value": 60},
                 {"field": "list", "op": "confirmed", "value": "daily"},
                 {"field": "attributes.plan", "op": "in", "value": ["supporter", "patron"]}]}


class Site:
    base_url = "https://news.example.org"
    mail_domain = "news.example.org"


class Time(float):
    """A median wall time in seconds that also carries the median CPU time of this process."""

    cpu: float


def timed(run: Callable[[], Any], repeat: int) -> tuple[Time, Any]:
    """Median wall and CPU time of ``repeat`` runs after one warm-up, and the result.

    The CPU time is this process's: on SQLite the query runs here, so it is what the
    wall time would be on an idle machine; on PostgreSQL the server does the work.
    """
    result = run()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    median = Time(statistics.median(walls))
    median.cpu = statistics.median(cpus)
    return median, result


def rows(count: int, seed: int = 11) -> Any:
    rng = random.Random(seed)
    start = NOW - timedelta(days=3 * 365)
    for i in range(1, count + 1):
        attributes = {"city": rng.choice(CITIES), "age": rng.randint(18, 90),
                      "plan": rng.choice(PLANS)}
        if rng.random() < 0.3:
            attributes["topics"] = rng.sample(["politics", "sport", "culture", "science"], 2)
        created = start + timedelta(seconds=rng.randrange(3 * 365 * 86400))
        yield i, f"u{i:07d}@example.com", json.dumps(attributes), created, \
            rng.random() < 0.6, rng.random() < 0.3


def _pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def build(backend: str, count: int, rebuild: bool) -> str:
    """The database URL of a migrated database with ``count`` subscribers on two lists."""
    if backend == "sqlite":
        path = Path(tempfile.gettempdir()) / f"tidings-bench-segments-{count}.db"
        url = f"sqlite:///{path}"
        if path.exists() and not rebuild:
            return url
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        name = f"tidings_bench_segments_{count}"
        url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
        with psycopg.connect(_pg_dsn(PG_ADMIN), autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                   (name,)).fetchone()
            if exists and not rebuild:
                return url
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
    print(f"building {count:,} subscribers on {backend} ...", flush=True)
    started = time.perf_counter()
    db = open_database(url)
    migrate.upgrade(db)
    daily = lists.create(db, slug="daily", name="Daily", optin=OptIn.SINGLE).id
    weekly = lists.create(db, slug="weekly", name="Weekly", optin=OptIn.SINGLE).id
    db.dispose()
    if backend == "sqlite":
        _fill_sqlite(str(make_url(url).database), count, daily, weekly)
    else:
        _fill_postgres(url, count, daily, weekly)
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    return url


def _fill_sqlite(path: str, count: int, daily: int, weekly: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    subs, memberships = [], []
    for i, email, attributes, created, on_daily, on_weekly in rows(count):
        stamp = created.strftime("%Y-%m-%d %H:%M:%S.%f")
        subs.append((i, f"b{i:015d}", email, "", attributes, "enabled", stamp, stamp))
        if on_daily:
            memberships.append((i, daily, "confirmed", stamp, stamp))
        if on_weekly:
            memberships.append((i, weekly, "confirmed", stamp, stamp))
    conn.executemany("INSERT INTO subscribers (id, uid, email, name, attributes, status, "
                     "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", subs)
    conn.executemany("INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, "
                     "updated_at) VALUES (?, ?, ?, ?, ?)", memberships)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def _fill_postgres(url: str, count: int, daily: int, weekly: int) -> None:
    with psycopg.connect(_pg_dsn(url)) as conn:
        with conn.cursor().copy("COPY subscribers (id, uid, email, name, attributes, status, "
                                "created_at, updated_at) FROM STDIN") as copy:
            memberships = []
            for i, email, attributes, created, on_daily, on_weekly in rows(count):
                copy.write_row((i, f"b{i:015d}", email, "", attributes, "enabled", created,
                                created))
                if on_daily:
                    memberships.append((i, daily, "confirmed", created, created))
                if on_weekly:
                    memberships.append((i, weekly, "confirmed", created, created))
        with conn.cursor().copy("COPY subscriptions (subscriber_id, list_id, status, "
                                "created_at, updated_at) FROM STDIN") as copy:
            for row in memberships:
                copy.write_row(row)
        conn.execute("SELECT setval('subscribers_id_seq', %s)", (count,))
    with psycopg.connect(_pg_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def bench_segments(backend: str, count: int, rebuild: bool, repeat: int) -> list[tuple]:
    url = build(backend, count, rebuild)
    db = open_database(url)
    results = []
    try:
        with db.read() as conn:
            oslo = ("SELECT count(*) FROM subscribers WHERE json_extract(attributes, "
                    "'$.city') = 'Oslo'" if db.is_sqlite else
                    "SELECT count(*) FROM subscribers WHERE attributes @> '{\"city\": \"Oslo\"}'")
            bare, total = timed(lambda: conn.execute(text(
                "SELECT count(*) FROM subscribers")).scalar_one(), repeat)
            alone, in_oslo = timed(lambda: conn.execute(text(oslo)).scalar_one(), repeat)
        three, matched = timed(lambda: segments.count(db, THREE), repeat)
        ranged, in_range = timed(lambda: segments.count(db, RANGE), repeat)
        saved = _segment(db)
        with db.read() as conn:
            daily = lists.find(conn, "daily").id
            walk, reached = timed(lambda: audience.count(
                conn, [daily], None, audience.segment_condition(conn, saved)), repeat)
        results += [
            (backend, f"COUNT(*) of {total:,} subscribers (ceiling)", bare, total),
            (backend, "city = Oslo alone, hand-written SQL", alone, in_oslo),
            (backend, "segment: city eq + list confirmed + created in 365 d", three, matched),
            (backend, "segment: age gte (range) + list + plan in", ranged, in_range),
            (backend, "campaign audience: list ∩ segment", walk, reached),
        ]
        if not db.is_sqlite:
            with db.read() as conn:
                sizes = conn.execute(text(
                    "SELECT pg_relation_size('subscribers'), "
                    "pg_relation_size('ix_subscribers_attributes')")).one()
            print(f"  postgresql: subscribers heap {sizes[0] / 2**20:.0f} MiB, GIN index "
                  f"{sizes[1] / 2**20:.0f} MiB", flush=True)
    finally:
        db.dispose()
    return results


def _segment(db: Database) -> int:
    existing = [s for s in segments.all_segments(db) if s.name == "bench"]
    if existing:
        return existing[0].id
    return segments.create(db, name="bench", filter=THREE).id


def bench_preview_and_digest(backend: str, repeat: int) -> list[tuple]:
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="tidings-bench-"))
        url = f"sqlite:///{directory / 'small.db'}"
        cleanup: Callable[[], None] = lambda: None  # noqa: E731
    else:
        name = "tidings_bench_segments_small"
        url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
        with psycopg.connect(_pg_dsn(PG_ADMIN), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')

        def cleanup() -> None:
            with psycopg.connect(_pg_dsn(PG_ADMIN), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    db = open_database(url)
    tokens = TokenSigner("bench-secret-key-0123456789")
    results = []
    try:
        migrate.upgrade(db)
        lists.create(db, slug="news", name="News", optin=OptIn.SINGLE)
        reader = subscribers.add(db, email="ann@example.com", name="Ann Lie", lists=["news"],
                                 attributes={"city": "Oslo"}, preconfirmed=True)
        article = (ROOT / "tests/support/data/kerry-putin.txt").read_text(encoding="utf-8")
        body = "# {{ subscriber.first_name }}, the week in review\n\n"
        for paragraph in (article.split("\n\n") * 4):
            if len(body.encode()) + len(paragraph.encode()) > 20 * 1024:
                break
            body += paragraph + " [More](https://news.example.org/a) · " \
                "{{ subscriber.attributes.city }}\n\n"
        issue = campaigns.create(db, name="Issue", subject="For {{ subscriber.name }}",
                                 body=body, lists=["news"])
        def preview(cold: bool) -> Any:
            if cold:  # as after an edit: nothing compiled yet
                db.cache.clear()
            return campaigns.preview(db, issue.uid, site=Site(), tokens=tokens,
                                     subscriber="ann@example.com")

        cold, _ = timed(lambda: preview(True), repeat * 4)
        warm, _ = timed(lambda: preview(False), repeat * 4)
        markdown, _ = timed(lambda: content.to_html(body, BodyFormat.MARKDOWN), repeat * 4)
        compiled = compile_campaign(issue, [lists.get(db, "news")], layout=None,
                                    sender=Sender.from_settings(Site(), {}), tokens=tokens,
                                    dkim=None)
        one = Recipient.from_subscriber(reader, (issue.list_ids[0],))
        render, _ = timed(lambda: compiled.render(one), repeat * 4)
        size = len(body.encode()) / 1024
        results += [
            (backend, f"preview of a {size:.0f} KB issue, just edited", cold, 1),
            (backend, "preview of it for another reader (compiled)", warm, 1),
            (backend, "  Markdown to HTML of that body alone", markdown, 1),
            (backend, "  engine's per-reader render of the compiled issue", render, 1),
        ]
        with FeedServer() as server:
            server.routes["/feed.xml"] = Response(body=rss(many(server.base, 50)))
            fetcher = Fetcher(allow_loopback=True)
            fetch, fetched = timed(lambda: fetcher.fetch(server.url("/feed.xml")), repeat)
            bare, _ = timed(lambda: httpx.get(server.url("/feed.xml")).content, repeat)
            parse, _ = timed(lambda: feedparser.parse(fetched.content), repeat)
            runs, cpus = [], []
            for i in range(repeat + 1):
                uid = feeds.add(db, name=f"Feed {i}", url=server.url("/feed.xml"),
                                lists=["news"], send_time="08:00", include_existing=True,
                                fetcher=fetcher).uid
                start, cpu = time.perf_counter(), time.process_time()
                made = feeds.run(db, uid, fetcher=fetcher)
                runs.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
                assert made.items == 50
            digest = Time(statistics.median(runs[1:]))
            digest.cpu = statistics.median(cpus[1:])
            results += [
                (backend, f"50-item digest from a local feed ({len(fetched.content) // 1024}"
                          " KB)", digest, 50),
                (backend, "  httpx GET of the feed alone", bare, 1),
                (backend, "  guarded fetch of the feed", fetch, 1),
                (backend, "  feedparser.parse alone", parse, 50),
            ]
    finally:
        db.dispose()
        cleanup()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    load = os.getloadavg()[0]
    for backend in backends:
        results += bench_segments(backend, args.rows, args.rebuild, args.repeat)
        results += bench_preview_and_digest(backend, args.repeat)
    print()
    print(f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
          f"on {os.cpu_count()} cores")
    print(f"{'backend':<11} {'what':<56} {'wall':>10} {'cpu here':>10} {'rows':>10}")
    for backend, what, seconds, count in results:
        print(f"{backend:<11} {what:<56} {_ms(seconds):>10} {_ms(seconds.cpu):>10} "
              f"{count:>10,}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


if __name__ == "__main__":
    main()
