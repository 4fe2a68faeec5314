"""Subscriber CSV import: rows per second against a ceiling measured in the same run.

Generates a CSV (realistic addresses and names, some non-ASCII, three attributes,
2% invalid rows, 1% duplicates in another case), then for SQLite and PostgreSQL:

* ceiling: the valid, distinct rows (already parsed, in memory) written into a bare
  table with a unique index on lower(email): SQLite ``executemany``, PostgreSQL
  ``COPY``. Nothing an import could skip.
* import: ``tidings.services.imports.run`` on the file into a migrated, empty
  database, subscribing everyone to one list as confirmed, in a child process whose
  peak resident memory (VmHWM) is reported.

    .venv/bin/python bench/import.py --rows 100000          # a quick run
    .venv/bin/python bench/import.py                         # the 1,000,000-row run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import psycopg  # noqa: E402

PG_ADMIN = os.environ.get("TIDINGS_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

FIRST = ["Anna", "Ben", "Chloé", "David", "Elif", "François", "Greta", "Hamid", "Inès", "Jonas",
         "Kasia", "Łukasz", "Maria", "Nguyễn", "Olga", "Pål", "Quentin", "Rúna", "Søren", "Tomás",
         "Ursula", "Văn", "Wiebke", "Xavier", "Yusuf", "Zoë", "明", "Ahmed", "Björn", "Carmen"]
LAST = ["Smith", "Müller", "García", "Rossi", "Dubois", "Kowalski", "Nowak", "Jensen", "Øster",
        "Yılmaz", "Papadopoulos", "Ivanov", "O'Brien", "van der Berg", "Silva", "Lefèvre",
        "Andersson", "Horváth", "Novák", "Tanaka", "王", "Schröder", "Costa", "Moreau", "Berg"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "post.example.de", "example.co.uk",
           "news.example.fr", "example.io"]
CITIES = ["Oslo", "Zürich", "São Paulo", "Kraków", "Lyon", "Berlin", "Dublin", "Kyoto", "Austin"]
PLANS = ["free", "reader", "supporter", "patron"]
INVALID = ["no-at-sign.example.com", "two@@example.com", "spaces in@example.com",
           "trailing.dot.@example.com", "user@", "@example.com", "user@-bad-.com", "user@localhost"]


def ascii_of(text: str) -> str:
    return "".join(c for c in text.lower() if c.isascii() and c.isalnum()) or "x"


def generate(path: Path, rows: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """Write the CSV; return the valid distinct rows (email, name, attributes JSON)."""
    rng = random.Random(seed)
    valid: list[tuple[str, str, str]] = []
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["email", "name", "city", "plan", "signup_year"])
        for i in range(rows):
            roll = rng.random()
            city, plan, year = rng.choice(CITIES), rng.choice(PLANS), str(rng.randint(2005, 2025))
            if roll < 0.02:
                out.writerow([rng.choice(INVALID), "Invalid Row", city, plan, year])
                continue
            if roll < 0.03 and valid:
                email = rng.choice(valid)[0]
                out.writerow([email.upper(), "Duplicate", city, plan, year])
                continue
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{ascii_of(first)}.{ascii_of(last)}{i}@{rng.choice(DOMAINS)}"
            name = f"{first} {last}"
            out.writerow([email, name, city, plan, year])
            attributes = json.dumps({"city": city, "plan": plan, "signup_year": year},
                                    ensure_ascii=False, separators=(",", ":"))
            valid.append((email, name, attributes))
    return valid


def pg_url(name: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def pg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_pg(name: str) -> str:
    with psycopg.connect(pg_dsn(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def drop_pg(name: str) -> None:
    with psycopg.connect(pg_dsn(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ceiling_sqlite(path: Path, rows: list[tuple[str, str, str]]) -> float:
    import sqlite3

    from tidings.db.database import SQLITE_PRAGMAS
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    conn.execute("CREATE TABLE bare (email TEXT NOT NULL, name TEXT, attributes TEXT)")
    conn.execute("CREATE UNIQUE INDEX ux_bare ON bare (lower(email))")
    started = time.perf_counter()
    conn.execute("BEGIN")
    for start in range(0, len(rows), 10_000):
        conn.executemany("INSERT INTO bare VALUES (?, ?, ?)", rows[start:start + 10_000])
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


def ceiling_postgres(url: str, rows: list[tuple[str, str, str]]) -> float:
    with psycopg.connect(pg_dsn(url)) as conn:
        conn.execute("CREATE TABLE bare (email TEXT NOT NULL, name TEXT, attributes JSONB)")
        conn.execute("CREATE UNIQUE INDEX ux_bare ON bare (lower(email))")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY bare (email, name, attributes) FROM STDIN"
                                            ) as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bare")
        conn.commit()
    return len(rows) / elapsed


def prepare(url: str) -> None:
    from tidings.db import migrate
    from tidings.db.database import open_unpooled
    from tidings.services import lists
    db = open_unpooled(url)
    migrate.upgrade(db)
    lists.create(db, slug="bench", name="Bench")
    db.dispose()


def child(url: str, path: str) -> None:
    """Run one import (in a child process) and print its numbers as JSON."""
    from tidings.db.database import open_unpooled
    from tidings.domain.subscriptions import SubscriptionStatus
    from tidings.services import imports
    db = open_unpooled(url)
    options = imports.ImportOptions(lists=("bench",), status=SubscriptionStatus.CONFIRMED)
    started = time.perf_counter()
    with open(path, "rb") as stream, open(os.devnull, "w") as report:  # noqa: PTH123
        result = imports.run(db, stream, options, report=report)
    elapsed = time.perf_counter() - started
    db.dispose()
    print(json.dumps({"seconds": elapsed, "rows": result.rows, "imported": result.imported,
                      "skipped": result.skipped, "peak_mb": peak_resident_mb()}))


def peak_resident_mb() -> float:
    """This process's peak resident memory (VmHWM).

    Not ru_maxrss: Linux carries that across exec, so a child forked from this big
    parent (it holds the generated rows) would report the parent's size.
    """
    status = Path("/proc/self/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines()
               if line.startswith("VmHWM:"))
    return kib / 1024


def run_child(url: str, path: Path) -> tuple[dict[str, float], float]:
    """The child's numbers and its peak resident memory in MB."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path)], stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the import child failed ({done.returncode})")
    numbers = json.loads(done.stdout)
    return numbers, float(numbers["peak_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="tidings-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / "subscribers.csv"
        started = time.perf_counter()
        valid = generate(csv_path, args.rows)
        print(f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB, "
              f"{len(valid):,} valid and distinct) in {time.perf_counter() - started:.1f} s")
        results = []
        if args.backend in ("sqlite", "both"):
            ceiling = ceiling_sqlite(work / "ceiling.db", valid)
            url = f"sqlite:///{work / 'tidings.db'}"
            prepare(url)
            numbers, peak = run_child(url, csv_path)
            results.append(("SQLite", numbers, ceiling, peak))
        if args.backend in ("postgresql", "both"):
            name = f"tidings_bench_import_{os.getpid()}"
            try:
                ceiling = ceiling_postgres(recreate_pg(name), valid)
                drop_pg(name)
                url = recreate_pg(name)
                prepare(url)
                numbers, peak = run_child(url, csv_path)
                results.append(("PostgreSQL", numbers, ceiling, peak))
            finally:
                drop_pg(name)
    print()
    print("| database | rows | import s | import rows/s | ceiling rows/s | ratio | peak MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for backend, numbers, ceiling, peak in results:
        rate = numbers["rows"] / numbers["seconds"]
        print(f"| {backend} | {int(numbers['rows']):,} | {numbers['seconds']:.1f} | {rate:,.0f} "
              f"| {ceiling:,.0f} | {rate / ceiling:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
