"""Forgetting signups nobody confirmed.

A double opt-in signup that is never confirmed must not keep a stranger's address
forever (anyone can type it into a form). :func:`purge` removes subscriptions still
unconfirmed ``signup.purge_unconfirmed_days`` after the last signup for them; a
subscriber left with no subscription who never did anything but sign up (no
confirmation, no change by an editor, an import or the reader) and is not blocklisted
is deleted with everything stored about them, consent records included, through the
same path as an erasure (:func:`tidings.db.personal_data.erase`). Unlike an erasure the
address is not suppressed: its owner may still sign up later.

The scheduler tick (:func:`tidings.services.scheduling.run_due`) calls
:func:`run_periodically`, which purges at most once per :data:`INTERVAL` across all
workers.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

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
    while True:
        with db.read() if dry_run else db.write() as conn:
            ids = db_subscriptions.unconfirmed_since(conn, before, after=after, limit=BATCH)
            if not ids:
                break
            after = ids[-1]
            abandoned = db_subscribers.abandoned_signups(conn, ids, before)
            if dry_run:
                total_subscriptions += db_subscriptions.count_unconfirmed_since(
                    conn, ids, before)
            else:
                total_subscriptions += db_subscriptions.delete_unconfirmed_since(
                    conn, ids, before)
                personal_data.erase(conn, abandoned)
            total_subscribers += len(abandoned)
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
