"""Reading the audit trail (every use case writes to it, see :mod:`tidings.db.events`)."""

from __future__ import annotations

from typing import Any

from tidings.db import events
from tidings.db.database import Database


def recent(db: Database, *, before_id: int | None = None, limit: int = 100
           ) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated by id."""
    with db.read() as conn:
        return events.recent(conn, limit=limit, before_id=before_id)
