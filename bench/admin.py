"""Admin pages and API list endpoints at 1,000,000 subscribers: server time per request.

Fills a PostgreSQL database with ``--subscribers`` subscribers (``generate_series``,
spread over 90 days of signups), four lists holding about 1.8 subscriptions per
subscriber, a finished campaign with a 200,000-row delivery ledger and a few
thousand audit events, then requests every admin page and API collection through
the real app. A timing middleware around the ASGI app measures server time (from
the request arriving to the last byte of the answer). Each URL is requested once cold
(this process's caches emptied: counts on the dashboard and list pages, settings,
campaign results), twice to warm up, then ``--repeat`` times for the median and p95.

Ceiling, same run: ``GET /healthz``, which runs ``SELECT 1`` through the same stack.
The target is 200 ms per page.

    .venv/bin/python bench/admin.py                       # 1,000,000 subscribers
    .venv/bin/python bench/admin.py --subscribers 100000  # a quick run
    .venv/bin/python bench/admin.py --keep                # reuse the filled database
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import psycopg  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from tidings import bootstrap, config  # noqa: E402
from tidings.db import migrate  # noqa: E402
from tidings.db.database import open_unpooled  # noqa: E402
from tidings.domain.roles import Role  # noqa: E402
from tidings.services import accounts, api_keys, runtime_settings, users  # noqa: E402
from tidings.web.app import create_app  # noqa: E402

PG_ADMIN = os.environ.get("TIDINGS_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DATABASE = "tidings_bench_admin"
TARGET_MS = 200.0
PASSWORD = "bench password 123"


def dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def database_url() -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + DATABASE


def fill(subscribers: int) -> None:
    """Create the database and fill it (a few minutes for a million)."""
    with psycopg.connect(dsn(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    db = open_unpooled(database_url())
    migrate.upgrade(db)
    db.dispose()
    steps = [
        ("lists", """
            INSERT INTO lists (uid, slug, name, description, visibility, optin, created_at,
                               updated_at)
            SELECT substr(md5('list' || i), 1, 16), 'list-' || i, 'List ' || i, '',
                   'public', 'double', now(), now() FROM generate_series(1, 4) AS i"""),
        ("subscribers", f"""
            INSERT INTO subscribers (uid, email, name, attributes, status, created_at,
                                     updated_at)
            SELECT substr(md5(i::text), 1, 16), 'reader' || i || '@example.org',
                   'Reader ' || i,
                   jsonb_build_object('city', (ARRAY['Oslo','Lyon','Kyoto','Austin'])[i % 4 + 1]),
                   CASE WHEN i % 1000 = 0 THEN 'blocklisted' ELSE 'enabled' END,
                   now() - interval '90 days' + (i * interval '90 days' / {subscribers}),
                   now()
            FROM generate_series(1, {subscribers}) AS i"""),
        ("subscriptions", """
            INSERT INTO subscriptions (subscriber_id, list_id, status, confirmed_at,
                                       created_at, updated_at)
            SELECT s.id, l.id,
                   CASE WHEN s.id % 20 = 0 THEN 'unsubscribed'
                        WHEN s.id % 20 = 1 THEN 'unconfirmed' ELSE 'confirmed' END,
                   s.created_at, s.created_at, s.created_at
            FROM subscribers s JOIN lists l
              ON l.slug = 'list-1' OR (l.slug = 'list-2' AND s.id % 2 = 0)
              OR (l.slug = 'list-3' AND s.id % 5 = 0) OR (l.slug = 'list-4' AND s.id % 10 = 0)
            """),
        ("campaign", """
            INSERT INTO campaigns (uid, name, subject, body, body_format, status, total, sent,
                                   failed, started_at, finished_at, audience_max_id,
                                   created_at, updated_at)
            VALUES ('benchcampaign001', 'Issue 1', 'Hello', '# Hello', 'markdown', 'finished',
                    200000, 199000, 1000, now() - interval '2 hours', now() - interval '1 hour',
                    200000, now(), now());
            INSERT INTO campaign_lists (campaign_id, list_id)
            SELECT c.id, l.id FROM campaigns c, lists l WHERE l.slug = 'list-1'"""),
        ("deliveries", """
            INSERT INTO deliveries (campaign_id, subscriber_id, status, attempts, updated_at,
                                    sent_at)
            SELECT c.id, s.id, CASE WHEN s.id % 200 = 0 THEN 'failed' ELSE 'sent' END, 1,
                   c.started_at + (s.id * interval '1 hour' / 200000),
                   CASE WHEN s.id % 200 = 0 THEN NULL
                        ELSE c.started_at + (s.id * interval '1 hour' / 200000) END
            FROM campaigns c, subscribers s WHERE s.id <= 200000"""),
        ("events", """
            INSERT INTO events (kind, actor, subject_type, subject_id, data, created_at)
            SELECT 'subscriber.updated', 'bench', 'subscriber', i, '{}',
                   now() - (i * interval '1 minute') FROM generate_series(1, 5000) AS i"""),
    ]
    with psycopg.connect(dsn(database_url()), autocommit=True) as conn:
        for name, sql in steps:
            started = time.perf_counter()
            conn.execute(sql)  # type: ignore[arg-type]
            print(f"  filled {name:<14} {time.perf_counter() - started:6.1f} s", flush=True)
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        print(f"  vacuum analyze      {time.perf_counter() - started:6.1f} s", flush=True)


class Timing:
    """ASGI middleware: server time of each request, from arrival to the last byte."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - started

        await self.app(scope, receive, timed_send)


def measure(client: TestClient, timing: Timing, url: str, repeat: int,
            headers: dict[str, str] | None = None) -> tuple[float, float, float, int]:
    """(cold, median, p95) in ms, and the status code. Cold: the process's caches (counts,
    settings, results) are emptied before the first request."""
    client.app.app.state.runtime.db.cache.clear()  # type: ignore[attr-defined]
    samples = []
    status = 0
    for i in range(repeat + 3):
        response = client.get(url, headers=headers)
        status = response.status_code
        if i == 0:
            cold = timing.last * 1000
        elif i >= 3:
            samples.append(timing.last * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return cold, statistics.median(samples), p95, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true",
                        help="reuse the database filled by an earlier run")
    args = parser.parse_args()
    if not args.keep:
        print(f"Filling PostgreSQL with {args.subscribers:,} subscribers…", flush=True)
        fill(args.subscribers)
    work = ROOT / "bench" / ".work" / "admin"
    work.mkdir(parents=True, exist_ok=True)
    settings = config.load(environ={}, data_dir=work, database_url=database_url(),
                           secret_key="bench-" + "secret-key-0123456789", inline_worker=False,
                           base_url="https://news.example.org")
    runtime = bootstrap.build(settings, pool_size=4)
    runtime_settings.update(runtime.db, {"setup.completed": True})
    with runtime.db.read() as conn:
        existing = conn.exec_driver_sql(
            "SELECT count(*) FROM users WHERE email = 'bench@example.org'").scalar()
    if not existing:
        users.create(runtime.db, email="bench@example.org", password=PASSWORD)
    owner = accounts.check_password(runtime.db, email="bench@example.org", password=PASSWORD,
                                    ip="127.0.0.1").user
    _, secret = api_keys.create(runtime.db, name="bench", role=Role.ADMIN, actor=owner)
    api = {"Authorization": f"Bearer {secret}"}
    timing = Timing(create_app(runtime))
    client = TestClient(timing, base_url="https://news.example.org")  # type: ignore[arg-type]
    page = client.get("/admin/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    client.post("/admin/login", data={"email": "bench@example.org", "password": PASSWORD,
                                      "csrf": token.group(1)}, follow_redirects=False)

    deep = client.get("/api/v1/subscribers", params={"limit": 1}, headers=api).json()
    with runtime.db.read() as conn:
        middle = conn.exec_driver_sql(
            f"SELECT uid FROM subscribers WHERE id = {args.subscribers // 2}").scalar()
    from tidings.services.directory import encode_cursor
    cursor = encode_cursor(args.subscribers // 2)
    assert deep["data"], "no subscribers"

    urls: list[tuple[str, str, dict[str, str] | None]] = [
        ("ceiling: /healthz (SELECT 1)", "/healthz", None),
        ("dashboard", "/admin", None),
        ("lists", "/admin/lists", None),
        ("subscribers, first page", "/admin/subscribers", None),
        ("subscribers, page at 500,000", f"/admin/subscribers?cursor={cursor}", None),
        ("subscribers, search email", "/admin/subscribers?q=reader12345", None),
        ("subscribers, search name", "/admin/subscribers?q=Reader%209999", None),
        ("subscribers, list + status", "/admin/subscribers?list=list-3&list_status=confirmed",
         None),
        ("subscribers, list, deep", f"/admin/subscribers?list=list-4&cursor={cursor}", None),
        ("subscribers, blocklisted", "/admin/subscribers?status=blocklisted", None),
        ("subscriber record", f"/admin/subscribers/{middle}", None),
        ("campaigns", "/admin/campaigns", None),
        ("campaign results (200k ledger)", "/admin/campaigns/benchcampaign001", None),
        ("imports", "/admin/imports", None),
        ("segments", "/admin/segments", None),
        ("layouts", "/admin/templates", None),
        ("settings", "/admin/settings", None),
        ("users", "/admin/users", None),
        ("audit trail", "/admin/events", None),
        ("outbox", "/admin/outbox", None),
        ("API lists", "/api/v1/lists", api),
        ("API subscribers", "/api/v1/subscribers", api),
        ("API subscribers, deep", f"/api/v1/subscribers?cursor={cursor}", api),
        ("API subscribers, search", "/api/v1/subscribers?q=reader4242", api),
        ("API subscribers, list", "/api/v1/subscribers?list=list-2&list_status=confirmed",
         api),
        ("API subscriber", f"/api/v1/subscribers/{middle}", api),
        ("API campaigns", "/api/v1/campaigns", api),
        ("API campaign stats", "/api/v1/campaigns/benchcampaign001/stats", api),
        ("API imports", "/api/v1/imports", api),
    ]
    print(f"\n{args.subscribers:,} subscribers, PostgreSQL, {args.repeat} warm requests each\n")
    print(f"{'page':<34} {'status':>6} {'cold ms':>9} {'median ms':>10} {'p95 ms':>8}  "
          f"target {TARGET_MS:.0f} ms")
    ceiling = None
    worst = 0.0
    for label, url, headers in urls:
        cold, median, p95, status = measure(client, timing, url, args.repeat, headers)
        if ceiling is None:
            ceiling = median
        else:
            worst = max(worst, p95)
        verdict = "ok" if p95 <= TARGET_MS else "SLOW"
        print(f"{label:<34} {status:>6} {cold:>9.1f} {median:>10.1f} {p95:>8.1f}  {verdict}",
              flush=True)
    print(f"\nworst p95 {worst:.1f} ms; ceiling (healthz) median {ceiling:.1f} ms")
    client.close()
    runtime.close()


if __name__ == "__main__":
    main()
