"""Recording signups: one write transaction for each group of concurrent signups.

SQLite has one writer at a time, and on both databases a transaction costs more than
the few rows of a signup. So the signups of one process that arrive while a write is
under way wait for it and then go together into the next transaction (group commit),
written by one thread (:class:`Writer`) that answers everyone in the group. New addresses,
the common case, are written with one multi-row statement per table; any other case
(an address already on file, twice in a group) goes through :func:`record_one`.

A group fails as a whole only on a database error; then each of its signups is written
again on its own, so one bad signup never fails the others. Invalid input (an unknown
or private list, a consent text never shown) fails that signup alone.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tidings.db import consents
from tidings.db import lists as db_lists
from tidings.db import subscribers as db_subscribers
from tidings.db import subscriptions as db_subscriptions
from tidings.db import suppressions as db_suppressions
from tidings.db.database import Database
from tidings.domain import subscriptions as machine
from tidings.domain.emails import casefold_key
from tidings.domain.errors import ValidationError
from tidings.domain.ids import new_uid
from tidings.domain.lists import MailingList, OptIn
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.services import outbox, runtime_settings, suppressions

MAX_GROUP = 64
UNKNOWN_LIST = "That newsletter is not available."
STALE_FORM = "This form is out of date. Please reload the page and try again."

KNOWN_TEXTS = "signups.consent_texts"   # db.cache: hashes of consent texts known stored
_SUPPRESSION_KEY = "signups.suppression_key"
_WRITER = "signups.writer"


@dataclass(eq=False)
class Pending:
    """One validated signup waiting to be written, and then its outcome."""

    address: str
    name: str
    refs: list[str]
    source: str
    consent_hash: str | None
    ip: str | None
    user_agent: str | None
    targets: list[MailingList] = field(default_factory=list)
    text_hash: str = ""
    error: Exception | None = None
    done: bool = False
    ready: threading.Event = field(default_factory=threading.Event)
    # How the writer wakes the caller: sets ``ready`` (a waiting thread), or resolves a
    # future on the caller's event loop (see :meth:`Writer.submit_async`).
    notify: Callable[[], None] | None = None

    def wake(self) -> None:
        (self.notify or self.ready.set)()

    def fail(self, error: Exception) -> None:
        self.error, self.done = error, True

    def reset(self) -> None:
        self.error, self.done, self.targets = None, False, []


class Writer:
    """Writes the signups of one process in groups, from a thread of its own.

    Callers queue a signup and wait; the thread takes everything queued, writes it in one
    transaction, wakes the callers, and goes on with what queued meanwhile. It starts on
    demand and ends after :data:`IDLE_SECONDS` without work.
    """

    IDLE_SECONDS = 1.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ready = threading.Condition()
        self._queue: list[Pending] = []
        self._thread: threading.Thread | None = None

    def submit(self, item: Pending) -> list[MailingList]:
        """Write ``item`` (with whatever else is waiting); return its lists or raise."""
        self._enqueue(item)
        item.ready.wait()
        return self._outcome(item)

    async def submit_async(self, item: Pending) -> list[MailingList]:
        """:meth:`submit` for a caller on an event loop: it waits without a thread."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            if not woken.done():
                woken.set_result(None)

        def notify() -> None:
            loop.call_soon_threadsafe(resolve)

        item.notify = notify
        self._enqueue(item)
        await woken
        return self._outcome(item)

    def _enqueue(self, item: Pending) -> None:
        with self._ready:
            self._queue.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tidings-signups",
                                                daemon=True)
                self._thread.start()
            else:
                self._ready.notify()

    @staticmethod
    def _outcome(item: Pending) -> list[MailingList]:
        if item.error is not None:
            raise item.error
        return item.targets

    def _run(self) -> None:
        while True:
            with self._ready:
                if not self._queue:
                    self._ready.wait(self.IDLE_SECONDS)
                if not self._queue:
                    self._thread = None
                    return
                group = self._queue[:MAX_GROUP]
                del self._queue[:MAX_GROUP]
            try:
                self._write(group)
            except BaseException as exc:  # never leave a caller waiting
                for item in group:
                    if not item.done:
                        item.fail(exc if isinstance(exc, Exception) else RuntimeError(exc))
                raise
            finally:
                for item in group:
                    item.wake()

    def _write(self, group: list[Pending]) -> None:
        db = self.db
        values = runtime_settings.get_all(db)
        now = utcnow()
        stored: set[str] = set()
        try:
            with db.write() as conn:
                stored = record_group(conn, db, group, values, now)
        except Exception:
            # A database error: write each signup alone, so only its own fails.
            stored = set()
            for item in group:
                item.reset()
                try:
                    with db.write() as conn:
                        stored |= record_group(conn, db, [item], values, now)
                except Exception as exc:
                    item.fail(exc)
        for item in group:
            item.done = True
        # Only once committed: later consent records point at these texts.
        db.cache.setdefault(KNOWN_TEXTS, set()).update(stored)


def writer(db: Database) -> Writer:
    """The writer of ``db`` in this process."""
    found: Writer | None = db.cache.get(_WRITER)
    if found is None:
        found = db.cache.setdefault(_WRITER, Writer(db))
    return found


def resolve_targets(by_ref: dict[str, MailingList], refs: Sequence[str]) -> list[MailingList]:
    """The lists named by ``refs`` among ``by_ref``; raise if one is missing.

    Unknown and private lists look alike: a form cannot probe for private ones.
    """
    if any(ref not in by_ref for ref in refs):
        raise ValidationError(UNKNOWN_LIST, field="lists")
    return list({by_ref[ref].id: by_ref[ref] for ref in refs}.values())


def public_lists(conn: Connection, refs: Sequence[str]) -> dict[str, MailingList]:
    """The public lists among ``refs``, keyed by every way of naming them."""
    by_ref: dict[str, MailingList] = {}
    for mailing_list in db_lists.public_by_refs(conn, refs):
        by_ref.update({mailing_list.uid: mailing_list, mailing_list.slug: mailing_list,
                       str(mailing_list.id): mailing_list})
    return by_ref


def consent_hash(db: Database, conn: Connection, claimed: str | None,
                 current: str) -> tuple[str, bool]:
    """The hash of the text the form showed (the one it names, or today's text), and
    whether this transaction stores it."""
    known: set[str] = db.cache.setdefault(KNOWN_TEXTS, set())
    if claimed:
        claimed = claimed.strip().lower()
        if claimed in known:
            return claimed, False
        if len(claimed) != 64 or not consents.has_text(conn, claimed):
            raise ValidationError(STALE_FORM, field="consent_hash")
        return claimed, True
    digest = consents.text_hash(current)
    if digest in known:
        return digest, False
    consents.store_text(conn, current, utcnow())
    return digest, True


def record_group(conn: Connection, db: Database, group: list[Pending],
                 values: dict[str, Any], now: datetime) -> set[str]:
    """Record a group of signups in ``conn``; return the consent texts it stored."""
    refs = sorted({ref for item in group for ref in item.refs})
    by_ref = public_lists(conn, refs)
    current = str(values["consent.text"]).replace("{publisher}",
                                                  str(values["publisher.name"]))
    stored: set[str] = set()
    live: list[Pending] = []
    for item in group:
        try:
            item.targets = resolve_targets(by_ref, item.refs)
            item.text_hash, new = consent_hash(db, conn, item.consent_hash, current)
        except ValidationError as exc:
            item.fail(exc)
            continue
        if new:
            stored.add(item.text_hash)
        live.append(item)
    key = _suppression_key(db, conn)
    digests = {id(item): suppressions.digest(key, item.address) for item in live}
    barred = db_suppressions.present(conn, digests.values())
    fresh: list[Pending] = []
    again: list[Pending] = []
    seen: set[str] = set()
    for item in live:
        if digests[id(item)] in barred:
            continue
        folded = casefold_key(item.address)
        (again if folded in seen else fresh).append(item)
        seen.add(folded)
    created = db_subscribers.insert_many_if_new(
        conn, [(new_uid(), item.address, item.name) for item in fresh], now)
    new_items = [item for item in fresh if casefold_key(item.address) in created]
    again.extend(item for item in fresh if casefold_key(item.address) not in created)
    _record_new(conn, new_items, [created[casefold_key(i.address)] for i in new_items], now)
    for item in again:
        record_one(conn, db, item, values, now)
    return stored


def _record_new(conn: Connection, items: list[Pending], ids: list[int],
                now: datetime) -> None:
    """Consents, subscriptions and confirmations of brand-new subscribers, a statement
    per table. A new subscriber row has had no confirmation yet (messages to an address
    deleted earlier went with its old row), so no daily cap applies."""
    if not items:
        return
    consent_ids = consents.record_many(conn, [{
        "subscriber_id": sid, "action": "signup", "source": item.source,
        "list_ids": [t.id for t in item.targets], "text_hash": item.text_hash,
        "ip": item.ip, "user_agent": item.user_agent, "api_key_id": None, "user_id": None,
        "created_at": now,
    } for item, sid in zip(items, ids, strict=True)])
    singles = sorted({t.id for item in items for t in item.targets if t.optin is OptIn.SINGLE})
    welcomed = set(db_lists.with_welcome(conn, singles))
    rows: list[tuple[int, int, SubscriptionStatus, int | None]] = []
    messages: list[dict[str, Any]] = []
    for item, sid, consent_id in zip(items, ids, consent_ids, strict=True):
        pending = []
        for target in item.targets:
            status = machine.subscribe(None, target.optin, consent=True)
            rows.append((sid, target.id, status, consent_id))
            if status is SubscriptionStatus.UNCONFIRMED:
                pending.append(target.id)
            elif target.id in welcomed:
                messages.append({"kind": "welcome", "to_email": item.address,
                                 "subscriber_id": sid, "payload": {"list_id": target.id}})
        if pending:
            messages.append({"kind": "confirmation", "to_email": item.address,
                             "subscriber_id": sid,
                             "payload": {"consent_id": consent_id, "list_ids": pending}})
    db_subscriptions.insert_many(conn, rows, now)
    outbox.enqueue_many(conn, messages, now)


def record_one(conn: Connection, db: Database, item: Pending, values: dict[str, Any],
               now: datetime) -> None:
    """Record one signup whose lists and consent text are resolved, whatever is on file
    about the address already."""
    digest = suppressions.digest(_suppression_key(db, conn), item.address)
    while True:
        if db_suppressions.present(conn, [digest]):
            return
        new_id = db_subscribers.insert_if_new(conn, uid=new_uid(), email=item.address,
                                              name=item.name, now=now)
        if new_id is not None:
            _record_new(conn, [item], [new_id], now)
            return
        existing = db_subscribers.get_for_update(conn, email=item.address)
        if existing is not None:
            break
        # On PostgreSQL, the row the insert met was deleted before it could be locked
        # (a purge of stale signups, an erasure, both commit their removal first):
        # the address is new again.
    if existing.status is SubscriberStatus.BLOCKLISTED:
        return
    subscriber_id = existing.id
    current = db_subscriptions.for_subscriber(conn, subscriber_id)
    consent_id = consents.record(
        conn, subscriber_id=subscriber_id, action="signup", source=item.source,
        list_ids=[t.id for t in item.targets], now=now, text_hash=item.text_hash,
        ip=item.ip, user_agent=item.user_agent)
    fresh: list[tuple[int, int, SubscriptionStatus, int | None]] = []
    pending: list[int] = []
    welcome: list[int] = []
    for target in item.targets:
        before = current.get(target.id)
        status = machine.subscribe(before.status if before else None, target.optin,
                                   consent=True)
        if before is None:
            fresh.append((subscriber_id, target.id, status, consent_id))
        elif status is not before.status or status is SubscriptionStatus.UNCONFIRMED:
            db_subscriptions.put(conn, subscriber_id, target.id, status, now,
                                 existing=before, consent_id=consent_id)
        if status is SubscriptionStatus.UNCONFIRMED:
            pending.append(target.id)
        elif before is None or before.status is not SubscriptionStatus.CONFIRMED:
            welcome.append(target.id)
    db_subscriptions.insert_many(conn, fresh, now)
    limit = int(values["signup.confirmations_per_day"])
    if pending and outbox.sent_recently(conn, to_email=item.address,
                                        kind="confirmation") < limit:
        outbox.enqueue(conn, kind="confirmation", to_email=item.address,
                       subscriber_id=subscriber_id, now=now,
                       payload={"consent_id": consent_id, "list_ids": pending})
    queue_welcome(conn, item.address, subscriber_id, welcome, now)


def queue_welcome(conn: Connection, address: str, subscriber_id: int,
                  list_ids: Sequence[int], now: datetime) -> None:
    """Queue the welcome message of each of ``list_ids`` that has one."""
    for list_id in db_lists.with_welcome(conn, list_ids):
        outbox.enqueue(conn, kind="welcome", to_email=address, subscriber_id=subscriber_id,
                       payload={"list_id": list_id}, now=now)


def _suppression_key(db: Database, conn: Connection) -> bytes:
    key: bytes | None = db.cache.get(_SUPPRESSION_KEY)
    if key is None:
        key = db.cache[_SUPPRESSION_KEY] = suppressions.key(conn)
    return key
