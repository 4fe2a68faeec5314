"""Leases: a named right held by one worker until it expires or is released.

``campaign:<id>`` says which worker sends that campaign; ``worker:<holder>`` is a
worker's heartbeat. Call these inside a write transaction (on PostgreSQL the row
is locked, on SQLite the write lock serialises takers).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from tidings.db.tables import leases
from tidings.db.upsert import upsert


def take(conn: Connection, name: str, holder: str, now: datetime, ttl: float,
         *, dead: Callable[[str], bool] = lambda _holder: False) -> tuple[bool, str | None]:
    """Take or renew ``name`` for ``holder``; return (taken, the previous holder).

    A lease is free when it does not exist, has expired, is ``holder``'s own, or
    ``dead(previous_holder)`` says its holder is gone.
    """
    expires = now + timedelta(seconds=ttl)
    inserted = conn.execute(upsert(conn, leases, {"name": name, "holder": holder,
                                                  "expires_at": expires}, index=["name"])
                            .returning(leases.c.name)).first()
    if inserted is not None:
        return True, None
    query = select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    current, until = conn.execute(query).one()
    if current != holder and until > now and not dead(current):
        return False, current
    conn.execute(update(leases).where(leases.c.name == name)
                 .values(holder=holder, expires_at=expires))
    return True, current


def release(conn: Connection, name: str, holder: str) -> None:
    conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))


def holders(conn: Connection, prefix: str, now: datetime) -> list[str]:
    """Holders of unexpired leases whose name starts with ``prefix``."""
    return list(conn.execute(
        select(leases.c.holder).where(leases.c.name.startswith(prefix, autoescape=True),
                                      leases.c.expires_at > now)).scalars())


def purge(conn: Connection, now: datetime) -> int:
    """Forget leases that expired more than a day ago."""
    return conn.execute(delete(leases).where(
        leases.c.expires_at < now - timedelta(days=1))).rowcount
