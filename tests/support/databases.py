"""Real databases for tests: an SQLite file or a PostgreSQL database per test run.

Each pytest process (and xdist worker) migrates one database per backend once;
every test then starts from empty tables: a fresh copy of the migrated SQLite
file, or TRUNCATE on PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.support.services import PG_ADMIN_URL, unavailable
from tidings.db import migrate
from tidings.db.database import open_unpooled
from tidings.db.tables import metadata


def _pg_dsn(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def pg_available() -> bool:
    try:
        with psycopg.connect(_pg_dsn(PG_ADMIN_URL), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


class SQLiteTemplate:
    """A migrated SQLite file copied for every test."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.db"
        db = open_unpooled(f"sqlite:///{self.path}")
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()

    def fresh(self, directory: Path) -> str:
        target = directory / "tidings.db"
        shutil.copyfile(self.path, target)
        return f"sqlite:///{target}"


class PostgresDatabase:
    """One migrated database per test process, emptied before each test."""

    def __init__(self) -> None:
        if not pg_available():
            self.url = None
            return
        self.name = f"tidings_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(_pg_dsn(PG_ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.url = make_url(PG_ADMIN_URL).set(database=self.name).render_as_string(
            hide_password=False)
        db = open_unpooled(self.url)
        migrate.upgrade(db)
        db.dispose()
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        self._truncate = f"TRUNCATE {tables} RESTART IDENTITY CASCADE"

    def fresh(self) -> str:
        if self.url is None:
            unavailable("PostgreSQL is not reachable at " + PG_ADMIN_URL)
        assert self.url is not None
        with psycopg.connect(_pg_dsn(self.url), autocommit=True) as conn:
            conn.execute(self._truncate)  # type: ignore[arg-type]
        return self.url

    def drop(self) -> None:
        if self.url is None:
            return
        with psycopg.connect(_pg_dsn(PG_ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """An empty PostgreSQL database (no migrations) for the length of the block."""
    if not pg_available():
        unavailable("PostgreSQL is not reachable at " + PG_ADMIN_URL)
    name = f"tidings_scratch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_pg_dsn(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_pg_dsn(PG_ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
