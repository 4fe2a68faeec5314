"""Concurrent signups share write transactions, and each still gets its own outcome."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from tidings.bootstrap import Runtime
from tidings.domain.errors import ValidationError
from tidings.domain.lists import OptIn, Visibility
from tidings.services import data_rights, lists, signup_writes, signups, subscribers


def count(runtime: Runtime, sql: str) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_concurrent_signups_are_each_stored_once(runtime: Runtime) -> None:
    db = runtime.db
    lists.create(db, slug="daily", name="Daily")
    lists.create(db, slug="weekly", name="Weekly", optin=OptIn.SINGLE)
    lists.create(db, slug="vip", name="VIP", visibility=Visibility.PRIVATE)
    known = subscribers.add(db, email="known@example.com", lists=["weekly"],
                            consent_text="ok")
    erased = subscribers.add(db, email="erased@example.com")
    data_rights.erase(db, erased.id)

    requests = [signups.Signup(email=f"r{i}@example.com", lists=["daily", "weekly"],
                               source="api") for i in range(120)]
    requests += [signups.Signup(email="Twice@example.com", lists=["daily"], source="api")
                 for _ in range(5)]
    requests += [signups.Signup(email="known@example.com", lists=["daily"], source="api"),
                 signups.Signup(email="erased@example.com", lists=["daily"], source="api")]
    bad = [signups.Signup(email=f"bad{i}@example.com", lists=["vip"], source="api")
           for i in range(5)]
    start = threading.Barrier(16)
    groups: list[int] = []
    original = signup_writes.Writer._write

    def spy(self: signup_writes.Writer, group: list[signup_writes.Pending]) -> None:
        groups.append(len(group))
        original(self, group)

    def run(request: signups.Signup) -> object:
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(timeout=5)
        try:
            return signups.signup(db, request)
        except ValidationError as exc:
            return exc

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signup_writes.Writer, "_write", spy)
        with ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(run, requests + bad))

    answers, errors = outcomes[:len(requests)], outcomes[len(requests):]
    assert all(isinstance(a, signups.Answer) for a in answers)
    assert all(isinstance(e, ValidationError) and e.field == "lists" for e in errors)
    assert max(groups) > 1, groups  # signups really shared transactions
    assert count(runtime, "SELECT count(*) FROM subscribers") == 120 + 2
    assert count(runtime, "SELECT count(*) FROM subscribers WHERE lower(email) "
                          "LIKE 'bad%'") == 0
    # The erased address gets the usual answer, and nothing is recorded.
    assert count(runtime, "SELECT count(*) FROM consents WHERE action = 'signup'") == \
        120 + 5 + 1
    assert count(runtime, "SELECT count(*) FROM subscriptions") == 120 * 2 + 1 + 2
    # One confirmation per new reader, the daily cap for the repeated address, one for
    # the known reader's new list, none for the erased address.
    assert count(runtime, "SELECT count(*) FROM outbox WHERE kind = 'confirmation'") == \
        120 + 3 + 1
    assert count(runtime, "SELECT count(*) FROM outbox WHERE to_email LIKE 'erased%'") == 0
    assert count(runtime, f"SELECT count(*) FROM subscriptions WHERE subscriber_id = "
                          f"{known.id}") == 2


def test_a_database_error_fails_only_its_own_signup(runtime: Runtime) -> None:
    db = runtime.db
    lists.create(db, slug="daily", name="Daily")
    writer = signup_writes.writer(db)
    good = signup_writes.Pending(address="good@example.com", name="", refs=["daily"],
                                 source="api", consent_hash=None, ip=None, user_agent=None)
    broken = signup_writes.Pending(address="broken@example.com", name="", refs=["daily"],
                                   source="x" * 100, consent_hash=None, ip=None,
                                   user_agent=None)  # too long for consents.source
    if db.is_sqlite:
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    writer._write([broken, good])  # fails together, then each is written alone
    assert good.error is None and good.done
    assert broken.error is not None and broken.done
    assert count(runtime, "SELECT count(*) FROM subscribers") == 1


def test_async_and_threaded_signups_share_the_writer(runtime: Runtime) -> None:
    db = runtime.db
    lists.create(db, slug="daily", name="Daily")
    groups: list[int] = []
    original = signup_writes.Writer._write

    def spy(self: signup_writes.Writer, group: list[signup_writes.Pending]) -> None:
        groups.append(len(group))
        original(self, group)

    async def many() -> list[object]:
        calls = [signups.signup_async(db, signups.Signup(
            email=f"a{i}@example.com", lists=["daily"] if i % 10 else ["nope"],
            source="api")) for i in range(150)]
        threads = [asyncio.to_thread(signups.signup, db, signups.Signup(
            email=f"t{i}@example.com", lists=["daily"], source="api")) for i in range(30)]
        return await asyncio.gather(*calls, *threads, return_exceptions=True)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signup_writes.Writer, "_write", spy)
        outcomes = asyncio.run(many())
    failed = [o for o in outcomes if isinstance(o, Exception)]
    assert len(failed) == 15 and all(isinstance(e, ValidationError) for e in failed)
    assert max(groups) > 1 and sum(groups) == 180
    assert count(runtime, "SELECT count(*) FROM subscribers") == 135 + 30
    assert count(runtime, "SELECT count(*) FROM outbox") == 135 + 30
    assert not signup_writes.writer(db)._queue
