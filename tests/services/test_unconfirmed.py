"""Signups nobody confirmed are forgotten after ``signup.purge_unconfirmed_days``."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from tests.delivery.conftest import wait_until
from tidings.bootstrap import Runtime
from tidings.db import consents
from tidings.db import subscribers as db_subscribers
from tidings.db.database import Database
from tidings.db.tables import consents as consent_rows
from tidings.db.tables import events, outbox, subscribers, subscriptions
from tidings.db.tables import lists as list_rows
from tidings.domain.errors import ValidationError
from tidings.domain.lists import OptIn
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.timezones import utcnow
from tidings.services import imports, lists, runtime_settings, scheduling, signups, unconfirmed
from tidings.services import subscribers as subscriber_service


def sign_up(db: Database, email: str, *refs: str, age_days: float = 0,
            confirm: bool = False) -> int:
    """A reader's signup through the public path, its subscriptions made ``age_days`` old."""
    signups.signup(db, signups.Signup(email=email, lists=list(refs), ip="192.0.2.7"))
    with db.write() as conn:
        subscriber = db_subscribers.get_by_email(conn, email)
        assert subscriber is not None
        record = consents.for_subscriber(conn, subscriber.id)[-1]
    if confirm:
        signups.confirm(db, subscriber.id, record["id"])
    if age_days:
        with db.write() as conn:
            then = utcnow() - timedelta(days=age_days)
            conn.execute(update(subscriptions)
                         .where(subscriptions.c.subscriber_id == subscriber.id,
                                subscriptions.c.list_id.in_(
                                    [lists.get(db, r).id for r in refs]))
                         .values(created_at=then, updated_at=then))
    return subscriber.id


def state(db: Database) -> dict[str, Any]:
    """Who is stored, on which lists, with how many consent records and queued messages."""
    with db.read() as conn:
        subs = conn.execute(select(subscriptions.c.subscriber_id, subscriptions.c.list_id,
                                   subscriptions.c.status)).all()
        slugs = dict(conn.execute(select(list_rows.c.id, list_rows.c.slug)).all())
        readers = {}
        for row in conn.execute(select(subscribers)).all():
            readers[row.email] = {
                "status": row.status,
                "lists": sorted((slugs[s.list_id], s.status)
                                for s in subs if s.subscriber_id == row.id),
                "consents": len(consents.for_subscriber(conn, row.id)),
            }
        queued = sorted(conn.execute(select(outbox.c.to_email)).scalars())
    return {"readers": readers, "outbox": queued}


@pytest.fixture
def db(runtime: Runtime) -> Database:
    lists.create(runtime.db, slug="daily", name="Daily", optin=OptIn.DOUBLE)
    lists.create(runtime.db, slug="weekly", name="Weekly", optin=OptIn.DOUBLE)
    return runtime.db


@pytest.fixture
def readers(db: Database) -> None:
    sign_up(db, "old@example.com", "daily", "weekly", age_days=31)
    sign_up(db, "recent@example.com", "daily", age_days=29)
    sign_up(db, "confirmed@example.com", "daily", age_days=60, confirm=True)
    sign_up(db, "both@example.com", "weekly", age_days=90, confirm=True)
    sign_up(db, "both@example.com", "daily", age_days=45)
    sign_up(db, "blocked@example.com", "daily", age_days=45)
    subscriber_service.update(db, "blocked@example.com", status=SubscriberStatus.BLOCKLISTED)


@pytest.mark.usefixtures("readers")
def test_purge_forgets_old_unconfirmed_signups_and_keeps_the_rest(db: Database) -> None:
    before = state(db)
    assert "old@example.com" in before["outbox"]  # its confirmation message

    done = unconfirmed.purge(db)

    assert (done.days, done.subscriptions, done.subscribers) == (30, 4, 1)
    after = state(db)
    assert "old@example.com" not in after["readers"]
    assert "old@example.com" not in after["outbox"]
    assert after["readers"]["recent@example.com"] == before["readers"]["recent@example.com"]
    assert after["readers"]["confirmed@example.com"] == {
        "status": "enabled", "lists": [("daily", "confirmed")], "consents": 2}
    # Confirmed on another list: keeps it, and the history of both signups.
    assert after["readers"]["both@example.com"] == {
        "status": "enabled", "lists": [("weekly", "confirmed")], "consents": 3}
    assert after["readers"]["blocked@example.com"]["lists"] == []
    assert after["readers"]["blocked@example.com"]["status"] == "blocklisted"
    with db.read() as conn:
        logged = conn.execute(select(events.c.data).where(
            events.c.kind == "subscribers.purged_unconfirmed")).scalars().all()
        left = conn.execute(select(func.count()).select_from(consent_rows)
                            .where(consent_rows.c.subscriber_id.not_in(
                                select(subscribers.c.id)))).scalar_one()
    assert logged == [{"days": 30, "subscriptions": 4, "subscribers": 1}]
    assert left == 0
    assert unconfirmed.purge(db) == unconfirmed.Purged(days=30)  # nothing left to do


def test_imported_readers_are_not_signups_to_forget(db: Database) -> None:
    # An import vouches for its readers (one shared consent record names them all): even
    # left unconfirmed for long, they are not strangers' signups.
    imports.run(db, io.BytesIO(b"email,name\nann@example.com,Ann\nbob@example.com,Bob\n"),
                imports.ImportOptions(lists=("daily",)))
    with db.write() as conn:
        then = utcnow() - timedelta(days=90)
        conn.execute(update(subscriptions).values(created_at=then, updated_at=then))
    before = state(db)
    assert {r["lists"][0] for r in before["readers"].values()} == {("daily", "unconfirmed")}

    done = unconfirmed.purge(db)

    assert (done.subscriptions, done.subscribers) == (2, 0)
    after = state(db)
    assert sorted(after["readers"]) == ["ann@example.com", "bob@example.com"]
    assert all(r["consents"] == 1 for r in after["readers"].values())


@pytest.mark.usefixtures("readers")
def test_dry_run_counts_and_changes_nothing(db: Database) -> None:
    before = state(db)
    counted = unconfirmed.purge(db, dry_run=True)
    assert (counted.subscriptions, counted.subscribers, counted.dry_run) == (4, 1, True)
    assert state(db) == before
    assert unconfirmed.purge(db, older_than_days=20, dry_run=True).subscriptions == 5
    assert state(db) == before
    done = unconfirmed.purge(db)
    assert (done.subscriptions, done.subscribers) == (counted.subscriptions,
                                                      counted.subscribers)


@pytest.mark.usefixtures("readers")
def test_older_than_overrides_the_setting(db: Database) -> None:
    done = unconfirmed.purge(db, older_than_days=50)
    assert (done.days, done.subscriptions, done.subscribers) == (50, 0, 0)
    done = unconfirmed.purge(db, older_than_days=20)
    assert (done.subscriptions, done.subscribers) == (5, 2)
    assert sorted(state(db)["readers"]) == ["blocked@example.com", "both@example.com",
                                            "confirmed@example.com"]
    with pytest.raises(ValidationError):
        unconfirmed.purge(db, older_than_days=0)


@pytest.mark.usefixtures("readers")
def test_zero_days_turns_purging_off(db: Database) -> None:
    runtime_settings.update(db, {unconfirmed.SETTING: 0})
    before = state(db)
    assert unconfirmed.purge(db) == unconfirmed.Purged(days=0)
    assert scheduling.run_due(db, utcnow()) == []
    assert unconfirmed.run_periodically(db, utcnow()) is None
    assert state(db) == before


def test_the_scheduler_tick_purges_once_an_hour(db: Database) -> None:
    now = utcnow()
    sign_up(db, "first@example.com", "daily", age_days=40)
    scheduling.run_due(db, now)
    assert "first@example.com" not in state(db)["readers"]

    sign_up(db, "second@example.com", "daily", age_days=40)
    scheduling.run_due(db, now + timedelta(minutes=59))
    assert "second@example.com" in state(db)["readers"]
    scheduling.run_due(db, now + timedelta(minutes=61))
    assert "second@example.com" not in state(db)["readers"]


def test_a_fresh_signup_restarts_the_clock(db: Database) -> None:
    sign_up(db, "again@example.com", "daily", age_days=40)
    signups.signup(db, signups.Signup(email="again@example.com", lists=["daily"]))
    assert unconfirmed.purge(db).subscriptions == 0
    assert unconfirmed.purge(db, now=utcnow() + timedelta(days=31)).subscribers == 1


def stale_since(days: int = 30) -> datetime:
    return utcnow() - timedelta(days=days)


def test_a_signup_between_selection_and_deletion_survives(db: Database) -> None:
    again = sign_up(db, "again@example.com", "daily", age_days=40)
    other = sign_up(db, "other@example.com", "daily", age_days=40)
    stale = sign_up(db, "stale@example.com", "daily", age_days=40)
    before = stale_since()
    found = unconfirmed.candidates(db, before)
    assert found == [again, other, stale]
    # Between the purge's two steps, two of them sign up again (committed).
    signups.signup(db, signups.Signup(email="again@example.com", lists=["daily"]))
    signups.signup(db, signups.Signup(email="other@example.com", lists=["weekly"]))

    assert unconfirmed.forget(db, found, before) == (2, 1)
    readers = state(db)["readers"]
    assert "stale@example.com" not in readers
    # The fresh signup to the same list keeps it, with both signups' records.
    assert readers["again@example.com"] == {
        "status": "enabled", "lists": [("daily", "unconfirmed")], "consents": 2}
    # The stale list goes, the fresh one stays, and so does the reader.
    assert readers["other@example.com"] == {
        "status": "enabled", "lists": [("weekly", "unconfirmed")], "consents": 2}


def postgres_only(db: Database) -> None:
    if not db.is_postgres:
        pytest.skip("SQLite has one writer at a time: a purge and a signup never overlap")


def waiting_on_a_lock(db: Database) -> int:
    """Backends of this database waiting for a row lock another one holds."""
    with db.read() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar_one())


def subscriber_id(db: Database, email: str) -> int | None:
    with db.read() as conn:
        found = db_subscribers.get_by_email(conn, email)
    return found.id if found else None


def test_a_purge_skips_a_reader_a_signup_holds(db: Database) -> None:
    postgres_only(db)
    sign_up(db, "again@example.com", "daily", age_days=40)
    sign_up(db, "stale@example.com", "daily", age_days=40)
    before = stale_since()
    found = unconfirmed.candidates(db, before)
    with db.write() as signup:
        # A signup of a known address locks its subscriber first; the purge, in its
        # own transaction meanwhile, neither waits for it nor touches that reader.
        assert db_subscribers.get_for_update(signup, email="again@example.com")
        assert unconfirmed.forget(db, found, before) == (1, 1)
    readers = state(db)["readers"]
    assert "stale@example.com" not in readers
    assert readers["again@example.com"]["lists"] == [("daily", "unconfirmed")]


def test_a_signup_waiting_for_a_purge_is_written_after_it(db: Database) -> None:
    postgres_only(db)
    old_id = sign_up(db, "again@example.com", "daily", age_days=40)
    before = stale_since()
    found = unconfirmed.candidates(db, before)
    failures: list[BaseException] = []

    def sign_up_again() -> None:
        try:
            signups.signup(db, signups.Signup(email="again@example.com", lists=["daily"]))
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    with db.write() as purge:
        assert db_subscribers.lock_free(purge, found) == [old_id]
        # The reader signs up again now: the signup finds the address and waits for
        # the lock the purge holds.
        thread = threading.Thread(target=sign_up_again)
        thread.start()
        wait_until(lambda: waiting_on_a_lock(db) == 1, what="the signup to wait")
        assert unconfirmed.remove_stale(purge, found, before) == (1, 1)
    thread.join(30)
    assert not thread.is_alive() and failures == []
    # The old row went with the purge; the signup made the reader anew.
    new_id = subscriber_id(db, "again@example.com")
    assert new_id is not None and new_id != old_id
    assert state(db)["readers"]["again@example.com"] == {
        "status": "enabled", "lists": [("daily", "unconfirmed")], "consents": 1}
    assert state(db)["outbox"] == ["again@example.com"]
