"""Queries on the suppression list (keyed hashes of addresses never to be mailed)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select

from tidings.db.tables import suppressions
from tidings.db.upsert import upsert


def add(conn: Connection, digest: str, reason: str, now: datetime) -> None:
    conn.execute(upsert(conn, suppressions,
                        {"hash": digest, "reason": reason, "created_at": now}, index=["hash"]))


def remove(conn: Connection, digest: str) -> None:
    conn.execute(delete(suppressions).where(suppressions.c.hash == digest))


def present(conn: Connection, digests: Iterable[str]) -> set[str]:
    """The subset of ``digests`` that is suppressed."""
    wanted = list(digests)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        found.update(conn.execute(_PRESENT, {"digests": wanted[start:start + 500]}).scalars())
    return found


def exist(conn: Connection) -> bool:
    """Whether anything is suppressed at all (bulk paths skip hashing when not)."""
    return conn.execute(select(suppressions.c.hash).limit(1)).first() is not None


_PRESENT = select(suppressions.c.hash).where(
    suppressions.c.hash.in_(bindparam("digests", expanding=True)))
