"""Migrations build exactly the schema of ``db/tables.py`` from an empty database."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tests.support.databases import scratch_postgres
from tidings.db import migrate
from tidings.db.database import open_unpooled
from tidings.db.tables import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        with scratch_postgres() as url:
            yield url


def test_upgrade_from_empty_builds_the_declared_schema(empty_url: str) -> None:
    db = open_unpooled(empty_url)
    try:
        assert migrate.current(db) is None
        applied = migrate.upgrade(db)
        assert applied[0] == "0001" and applied[-1] == migrate.head()
        assert migrate.current(db) == migrate.head()
        assert migrate.pending(db) == []
        assert migrate.upgrade(db) == []  # idempotent
        with db.engine.connect() as conn, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLite cannot reflect expression indexes
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if not _other_dialect(d, db.dialect)] == []
        tables = set(inspect(db.engine).get_table_names())
        assert {"lists", "subscribers", "subscriptions", "consents", "campaigns", "templates",
                "deliveries", "bounces", "users", "api_keys", "settings", "events"} <= tables
    finally:
        db.dispose()


def _other_dialect(difference: object, dialect: str) -> bool:
    """An index declared for another database only (``Index(...).ddl_if(dialect=...)``),
    which Alembic's comparison does not know about."""
    if not isinstance(difference, tuple) or difference[0] != "add_index":
        return False
    declared = {i.name: i for t in metadata.tables.values() for i in t.indexes}
    only = getattr(declared.get(difference[1].name), "_ddl_if", None)
    return only is not None and only.dialect not in (None, dialect)


def test_addresses_are_unique_case_insensitively(empty_url: str) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from tidings.db.tables import subscribers

    db = open_unpooled(empty_url)
    try:
        migrate.upgrade(db)
        now = datetime.now(UTC)
        row = {"uid": "a" * 16, "email": "Ann@Example.com", "name": "", "attributes": {},
               "status": "enabled", "created_at": now, "updated_at": now}
        with db.write() as conn:
            conn.execute(insert(subscribers).values(**row))
        with pytest.raises(IntegrityError), db.write() as conn:
            conn.execute(insert(subscribers).values(**{**row, "uid": "b" * 16,
                                                      "email": "ann@example.COM"}))
    finally:
        db.dispose()
