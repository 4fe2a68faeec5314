"""Forgetting signups nobody confirmed.

A double opt-in signup that is never confirmed must not keep a stranger's address
forever (anyone can type it into a form). :func:`purge` removes subscriptions still
unconfirmed ``signup.purge_unconfirmed_days`` after the last signup for them; a
subscriber left with no subscription who never did anything but sign up (no
confirmation, no change by an editor, an import or the reader) and is not blocklisted
is deleted with everything stored about them, consent records included, through the
same path as an erasure (:func:`tidings.db.personal_data.erase`). Unlike an erasure the
address is not suppressed: its owner may still sign up later.

A reader may sign up again, or confirm, at the very moment their stale signup is
purged. So the purge goes in two steps: :func:`candidates` finds stale signups without
holding anything, and :func:`forget` then locks each of them (on PostgreSQL ``FOR
UPDATE SKIP LOCKED``: one a signup or a confirmation holds is left for the next purge;
on SQLite the write lock) and tests again, at delete time, what makes it stale. A
fresh signup is therefore either seen and kept, or written after the purge onto what
is left (a new subscriber row if the old one went); it never fails and is never lost.

The scheduler tick (:func:`tidings.services.scheduling.run_due`) calls
:func:`run_periodically`, which purges at most once per :data:`INTERVAL` across all
workers.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from tidings.db import events, leases, personal_data
from tidings.db import subscribers as db_subscribers
from tidings.db import subscriptions as db_subscriptions
from tidings.db.database import Database
from tidings.domain.errors import ValidationError
from tidings.domain.timezones import utcnow
from tidings.services import runtime_settings

log = logging.getLogger("tidings.unconfirmed")

SETTING = "signup.purge_unconfirmed_days"
INTERVAL = timedelta(hours=1)
BATCH = 500  # subscribers per transaction: short write locks on SQLite
_LEASE = "purge:unconfirmed"


@dataclass(frozen=True, slots=True)
class Purged:
    """What a purge removed (or, in a dry run, would remove)."""

    days: int
    subscriptions: int = 0
    subscribers: int = 0
    dry_run: bool = False


def purge(db: Database, *, older_than_days: int | None = None, dry_run: bool = False,
          now: datetime | None = None, actor: str = "purge") -> Purged:
    """Remove subscriptions unconfirmed for ``older_than_days`` and the signups left empty.

    ``older_than_days`` defaults to the ``signup.purge_unconfirmed_days`` setting, where
    0 turns purging off. ``dry_run`` counts without changing anything.
    """
    if older_than_days is not None and older_than_days < 1:
        raise ValidationError("The age is at least one day.", field="older_than")
    days = int(runtime_settings.get(db, SETTING)) if older_than_days is None \
        else older_than_days
    if days == 0:
        return Purged(days=0, dry_run=dry_run)
    now = now or utcnow()
    before = now - timedelta(days=days)
    total_subscriptions = total_subscribers = 0
    after = 0
    while ids := candidates(db, before, after=after):
        after = ids[-1]
        if dry_run:
            with db.read() as conn:
                total_subscriptions += db_subscriptions.count_unconfirmed_since(
                    conn, ids, before)
                total_subscribers += len(db_subscribers.abandoned_signups(conn, ids, before))
        else:
            subscriptions, subscribers = forget(db, ids, before)
            total_subscriptions += subscriptions
            total_subscribers += subscribers
    result = Purged(days=days, subscriptions=total_subscriptions,
                    subscribers=total_subscribers, dry_run=dry_run)
    if not dry_run and total_subscriptions:
        with db.write() as conn:
            # Counts only: the audit trail must not keep who was forgotten.
            events.record(conn, "subscribers.purged_unconfirmed", now, actor=actor,
                          data={"days": days, "subscriptions": total_subscriptions,
                                "subscribers": total_subscribers})
        log.info("purged %d subscriptions unconfirmed for %d days and %d subscribers",
                 total_subscriptions, days, total_subscribers)
    return result


def candidates(db: Database, before: datetime, *, after: int = 0,
               limit: int = BATCH) -> list[int]:
    """The first step of a purge: subscribers (ids above ``after``, ascending, at most
    ``limit``) with a subscription unconfirmed since before ``before``.

    Nothing is held: by the time :func:`forget` runs, any of them may have signed up
    again.
    """
    with db.read() as conn:
        return db_subscriptions.unconfirmed_since(conn, before, after=after, limit=limit)


def forget(db: Database, subscriber_ids: Sequence[int], before: datetime) -> tuple[int, int]:
    """The second step: remove what is still stale of these signups, in one transaction.

    Each subscriber is locked first (one locked elsewhere is skipped, on PostgreSQL),
    then :func:`remove_stale` tests every condition again. Returns how many
    subscriptions and subscribers were removed.
    """
    with db.write() as conn:
        return remove_stale(conn, db_subscribers.lock_free(conn, subscriber_ids), before)


def remove_stale(conn: Connection, held: Sequence[int], before: datetime) -> tuple[int, int]:
    """Of the subscribers ``held`` (locked by this transaction), remove the subscriptions
    still unconfirmed since before ``before`` and erase those left with nothing else."""
    abandoned = db_subscribers.abandoned_signups(conn, held, before)
    removed = db_subscriptions.delete_unconfirmed_since(conn, held, before)
    personal_data.erase(conn, abandoned)
    return removed, len(abandoned)


def run_periodically(db: Database, now: datetime) -> Purged | None:
    """Purge if no worker did in the last :data:`INTERVAL`; None when it was not due."""
    if int(runtime_settings.get(db, SETTING)) == 0:
        return None
    with db.write() as conn:
        # A fresh holder each time: the lease is only free once the interval is over.
        due, _previous = leases.take(conn, _LEASE, secrets.token_hex(8), now,
                                     INTERVAL.total_seconds())
    if not due:
        return None
    return purge(db, now=now, actor="scheduler")
