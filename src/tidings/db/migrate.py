"""Applying migrations: ``tidings db upgrade`` and ``tidings serve`` on start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tidings.db.database import Database

_SCRIPTS = Path(__file__).with_name("migrations")


def head() -> str:
    """The newest revision shipped with this version of Tidings."""
    revision = ScriptDirectory.from_config(_bare_config()).get_current_head()
    assert revision is not None
    return revision


def _bare_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def current(db: Database) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def pending(db: Database) -> list[str]:
    """Revisions not yet applied, oldest first."""
    script = ScriptDirectory.from_config(_bare_config())
    at = current(db)
    revisions = [r.revision for r in script.iterate_revisions(script.get_current_head(), at)]
    return list(reversed(revisions))


def upgrade(db: Database, revision: str = "head") -> list[str]:
    """Apply pending migrations in one transaction each; return what was applied."""
    todo = pending(db)
    if not todo:
        return []
    config = _bare_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return todo
