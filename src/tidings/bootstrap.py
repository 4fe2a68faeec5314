"""The composition root: the one place that builds real parts from settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tidings.config import Settings
from tidings.db import migrate
from tidings.db.database import Database, open_database
from tidings.mail.tokens import TokenSigner


@dataclass
class Runtime:
    """Everything a request handler, command or worker needs, built once."""

    settings: Settings
    db: Database
    tokens: TokenSigner

    def close(self) -> None:
        self.db.dispose()


def build(settings: Settings, *, pool_size: int = 10) -> Runtime:
    """Open the database and build the runtime parts (no migrations, no I/O beyond connecting)."""
    return Runtime(
        settings=settings,
        db=open_database(settings.database_url, pool_size=pool_size),
        tokens=TokenSigner(settings.secret_key),
    )


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def prepare(settings: Settings) -> Runtime:
    """Build the runtime and bring the database schema up to date."""
    runtime = build(settings)
    applied = migrate.upgrade(runtime.db)
    if applied:
        logging.getLogger("tidings.db").info("applied migrations: %s", ", ".join(applied))
    return runtime
