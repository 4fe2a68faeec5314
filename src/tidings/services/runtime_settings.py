"""Reading and changing the runtime settings declared in :mod:`tidings.domain.settings`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from tidings.db import events
from tidings.db import settings as db_settings
from tidings.db.database import Database
from tidings.domain import settings as registry
from tidings.domain.timezones import utcnow

# Pages and messages read settings constantly; a short cache spares the database.
# Another process (a separate worker) sees a change within CACHE_SECONDS.
CACHE_SECONDS = 2.0
_CACHE_KEY = "runtime_settings"


def get_all(db: Database) -> dict[str, Any]:
    """Every declared setting: the stored value, or the default."""
    hit = db.cache.get(_CACHE_KEY)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return dict(hit[1])
    with db.read() as conn:
        stored = db_settings.all_values(conn)
    values = {s.name: stored.get(s.name, s.default) for s in registry.REGISTRY}
    db.cache[_CACHE_KEY] = (time.monotonic(), values)
    return dict(values)


def get(db: Database, name: str) -> Any:
    return get_all(db)[name]


def update(db: Database, values: Mapping[str, Any], *, actor: str | None = None) -> dict[str, Any]:
    """Validate every value first, then store them all in one transaction."""
    clean = {name: registry.validate(name, value) for name, value in values.items()}
    now = utcnow()
    db.cache.pop(_CACHE_KEY, None)
    with db.write() as conn:
        for name, value in clean.items():
            db_settings.put(conn, name, value, now)
        events.record(conn, "settings.updated", now, actor=actor,
                      data={"keys": sorted(clean)})
    db.cache.pop(_CACHE_KEY, None)
    return get_all(db)


def forget(db: Database) -> None:
    """Drop this process's cached values (after writing settings in another use case)."""
    db.cache.pop(_CACHE_KEY, None)
