"""Login throttling: failed attempts per account and per client address.

Each key allows ``limit`` failures within ``window``; past that it is locked, for
``base_lock`` at first and twice as long with every further failure (up to
``max_lock``). A locked key is refused without checking the password, so guessing
cannot go faster than the lockouts allow. Keys are SHA-256 hashes: the table never
holds addresses or emails, and unknown accounts are throttled like real ones (the
answer does not tell which accounts exist).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.db import throttles as db_throttles
from tidings.db.database import Database
from tidings.domain.errors import RateLimited
from tidings.domain.timezones import utcnow


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    limit: int
    window: timedelta
    base_lock: timedelta
    max_lock: timedelta
    message: str


ACCOUNT = Policy("account", 5, timedelta(minutes=15), timedelta(minutes=1),
                 timedelta(hours=1), "Too many failed sign-ins for this account.")
ADDRESS = Policy("address", 20, timedelta(minutes=15), timedelta(minutes=5),
                 timedelta(hours=1), "Too many failed sign-ins from your network address.")


@dataclass(frozen=True, slots=True)
class Key:
    policy: Policy
    digest: str


def account(email: str) -> Key:
    return Key(ACCOUNT, _digest("account", email.strip().lower()))


def address(ip: str) -> Key:
    return Key(ADDRESS, _digest("address", ip))


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def check(db: Database, keys: Sequence[Key], now: datetime | None = None) -> None:
    """Raise :class:`RateLimited` (saying how long to wait) if any key is locked."""
    now = now or utcnow()
    with db.read() as conn:
        rows = db_throttles.get_many(conn, [k.digest for k in keys])
    for key in keys:
        row = rows.get(key.digest)
        if row and row["locked_until"] is not None and row["locked_until"] > now:
            wait = (row["locked_until"] - now).total_seconds()
            raise RateLimited(f"{key.policy.message} Try again in {_minutes(wait)}.",
                              retry_after=wait)


def fail(db: Database, keys: Sequence[Key], now: datetime | None = None) -> None:
    """Count one failure against every key, locking those past their limit."""
    now = now or utcnow()
    with db.write() as conn:
        for key in keys:
            row = db_throttles.lock(conn, key.digest, now)
            policy = key.policy
            failures, started = row["failures"], row["window_started_at"]
            if now - started > policy.window and (row["locked_until"] is None
                                                  or row["locked_until"] <= now):
                failures, started = 0, now
            failures += 1
            locked_until = row["locked_until"]
            if failures >= policy.limit:
                lock = policy.base_lock * 2 ** min(failures - policy.limit, 16)
                locked_until = now + min(lock, policy.max_lock)
            db_throttles.save(conn, key.digest, failures=failures, window_started_at=started,
                              locked_until=locked_until)


def clear(db: Database, key: Key) -> None:
    with db.write() as conn:
        db_throttles.clear(conn, key.digest)


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
