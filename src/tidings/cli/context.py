"""Settings and runtime for commands, loaded once per process on first use."""

from __future__ import annotations

from functools import cache

from tidings import bootstrap, config
from tidings.bootstrap import Runtime
from tidings.config import Settings


@cache
def settings() -> Settings:
    return config.load()


@cache
def runtime() -> Runtime:
    """The runtime with the schema up to date (commands need the tables)."""
    return bootstrap.prepare(settings())
