"""Opening the database, and the two kinds of transaction every caller uses.

``Database.write()`` is a read-write transaction. On SQLite it starts with
``BEGIN IMMEDIATE`` so that two writers queue on the lock (``busy_timeout``)
instead of one failing with "database is locked" when it upgrades from a read.
``Database.read()`` is a read-only snapshot.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",   # durable at checkpoints; WAL keeps the file consistent
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-65536",    # 64 MiB page cache per connection
    "PRAGMA temp_store=MEMORY",
)


class Database:
    """An engine plus the transaction helpers. Build it with :func:`open_database`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        # Process-local caches of services (runtime settings, ...), dropped with the engine.
        self.cache: dict[str, Any] = {}
        # SQLite has one writer at a time. Writers of this process queue here and wake as
        # soon as the lock is free, instead of polling in SQLite's busy handler (which
        # sleeps up to 100 ms a try); other processes still wait through busy_timeout.
        self._write_lock = threading.RLock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction, committed on success, rolled back on error."""
        if self._write_lock is None:
            with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        with self._write_lock, self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _install_sqlite_hooks(engine: Engine, cache_mib: int | None = None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        for pragma in SQLITE_PRAGMAS:
            dbapi_connection.execute(pragma)
        if cache_mib is not None:
            dbapi_connection.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def open_database(url: str, *, pool_size: int = 10, echo: bool = False,
                  cache_mib: int | None = None) -> Database:
    """Create the engine for ``url`` (SQLite file or PostgreSQL) with our settings.

    ``cache_mib`` overrides SQLite's page cache per connection (64 MiB): the delivery
    worker walks whole audiences and keeps its memory flat with a small one.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, pool_size=pool_size, max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        _install_sqlite_hooks(engine, cache_mib)
    else:
        engine = create_engine(
            url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
        )
    return Database(engine)


def open_unpooled(url: str) -> Database:
    """A database without a connection pool, for one-shot commands and subprocesses."""
    engine = create_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        _install_sqlite_hooks(engine)
    return Database(engine)
