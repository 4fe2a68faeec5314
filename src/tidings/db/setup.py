"""The first-run claim: exactly one setup ever completes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from tidings.db.tables import settings

SETUP_KEY = "setup.completed"


def claim(conn: Connection, now: datetime) -> bool:
    """Mark setup completed inside the caller's transaction; False if it was already.

    The row is locked (PostgreSQL) or the database is (SQLite, ``BEGIN IMMEDIATE``),
    and a concurrent first insert fails on the primary key, so two setups racing
    cannot both win.
    """
    query = select(settings.c.value).where(settings.c.key == SETUP_KEY)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    if row is None:
        conn.execute(insert(settings).values(key=SETUP_KEY, value=True, updated_at=now))
        return True
    if row.value is True:
        return False
    conn.execute(update(settings).where(settings.c.key == SETUP_KEY)
                 .values(value=True, updated_at=now))
    return True
