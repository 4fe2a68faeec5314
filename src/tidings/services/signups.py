"""Readers signing up from public forms, and confirming by email (double opt-in).

A signup is written in one short transaction: the subscriber (created if new), one
consent record (when, IP address, user agent, source, lists, and the hash of the exact
consent text shown), the subscriptions, and, in the same transaction, the confirmation
email queued in the transactional outbox (:mod:`tidings.services.outbox`). Concurrent
signups share their transaction (:mod:`tidings.services.signup_writes`).

What the reader is told depends only on what they asked for, never on what Tidings
already knows about the address: a new, a pending, an already subscribed, a
blocklisted and an erased address all get the same :class:`Answer`. Nothing here
reveals whether an address is on file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from tidings.db import consents
from tidings.db import lists as db_lists
from tidings.db import subscribers as db_subscribers
from tidings.db import subscriptions as db_subscriptions
from tidings.db.database import Database
from tidings.domain import emails
from tidings.domain.errors import NotFound, ValidationError
from tidings.domain.lists import MailingList, OptIn
from tidings.domain.subscribers import check_name
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.services import runtime_settings, signup_writes

SOURCES = frozenset({"form", "embed", "api"})
MAX_LISTS = 50
NO_LIST = "Please select at least one mailing list."
UNKNOWN_LIST = signup_writes.UNKNOWN_LIST
_KNOWN_TEXTS = signup_writes.KNOWN_TEXTS


@dataclass(frozen=True, slots=True)
class Signup:
    """One signup request as a reader made it."""

    email: str
    lists: Sequence[str]          # public ids, slugs or integer ids
    source: str = "form"          # form, embed or api
    name: str | None = ""
    consent_hash: str | None = None  # sha256 of the consent text the form showed
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """What the reader is told. Depends on the request only, never on stored state."""

    pending: bool                     # True: "check your inbox"; False: "you're subscribed"
    lists: tuple[MailingList, ...]


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The lists of one signup: those confirmed by this step and those confirmed before."""

    subscriber_email: str
    confirmed: tuple[MailingList, ...]
    earlier: tuple[MailingList, ...]


def consent_text(values: dict[str, Any]) -> str:
    """The consent text as shown, from the runtime settings ``values``."""
    return str(values["consent.text"]).replace("{publisher}", str(values["publisher.name"]))


def current_consent_text(db: Database) -> str:
    return consent_text(runtime_settings.get_all(db))


def remember_consent_text(db: Database, text: str) -> str:
    """Store ``text`` once (if it is not yet); return its sha256 hash.

    Every page or snippet that shows a consent text calls this before showing it, so
    a signup can later point at exactly the text its form showed.
    """
    digest = consents.text_hash(text)
    known: set[str] = db.cache.setdefault(_KNOWN_TEXTS, set())
    if digest not in known:
        with db.write() as conn:
            consents.store_text(conn, text, utcnow())
        known.add(digest)
    return digest


def check_lists(refs: Sequence[Any]) -> list[str]:
    """The list references of a request: at least one, at most :data:`MAX_LISTS`."""
    clean = list(dict.fromkeys(str(r).strip() for r in refs if str(r).strip()))
    if not clean:
        raise ValidationError(NO_LIST, field="lists")
    if len(clean) > MAX_LISTS or any(len(r) > 64 for r in clean):
        raise ValidationError(UNKNOWN_LIST, field="lists")
    return clean


def offered(db: Database, refs: Sequence[str] = ()) -> list[MailingList]:
    """The public lists (all of them, or those named by ``refs``) in display order."""
    with db.read() as conn:
        if refs:
            return _targets(conn, check_lists(refs))
        return [m for m in db_lists.all_lists(conn) if m.visibility == "public"]


def signup(db: Database, request: Signup, *, quiet: bool = False) -> Answer:
    """Validate and record a signup; queue its confirmation email when one is due.

    With ``quiet`` (a submission judged automated, or over a limit) the request is
    validated and answered exactly as usual, but nothing is stored or sent.

    Raises :class:`InvalidEmail`, or :class:`ValidationError` for a bad name, no list,
    an unknown or private list, or a consent text Tidings never showed.
    """
    pending = _check(request)
    if quiet:
        return _answer_quietly(db, pending.refs)
    return _answer(signup_writes.writer(db).submit(pending))


async def signup_async(db: Database, request: Signup, *, quiet: bool = False) -> Answer:
    """:func:`signup` for a caller on an event loop (the web app): the database work
    runs in a worker thread, and a signup waiting for another's write holds none."""
    pending = _check(request)
    if quiet:
        return await asyncio.to_thread(_answer_quietly, db, pending.refs)
    return _answer(await signup_writes.writer(db).submit_async(pending))


def _check(request: Signup) -> signup_writes.Pending:
    if request.source not in SOURCES:
        raise ValidationError("Unknown signup source.", field="source")
    return signup_writes.Pending(
        address=emails.normalize(request.email), name=check_name(request.name),
        refs=check_lists(request.lists), source=request.source,
        consent_hash=request.consent_hash, ip=request.ip, user_agent=request.user_agent)


def _answer_quietly(db: Database, refs: Sequence[str]) -> Answer:
    with db.read() as conn:
        return _answer(_targets(conn, refs))


def pending_confirmation(db: Database, subscriber_id: int, consent_id: int) -> Confirmation:
    """What a confirmation link would confirm, without confirming anything.

    Raises :class:`NotFound` when the signup is gone (the reader erased their data).
    """
    with db.read() as conn:
        record, email = _signup_record(conn, subscriber_id, consent_id)
        subs = db_subscriptions.for_subscriber(conn, subscriber_id)
        lists = db_lists.by_ids(conn, record["list_ids"])
    waiting = tuple(m for m in lists if _status(subs, m.id) is SubscriptionStatus.UNCONFIRMED)
    done = tuple(m for m in lists if _status(subs, m.id) is SubscriptionStatus.CONFIRMED)
    return Confirmation(subscriber_email=email, confirmed=waiting, earlier=done)


def confirm(db: Database, subscriber_id: int, consent_id: int, *, ip: str | None = None,
            user_agent: str | None = None) -> Confirmation:
    """Confirm the lists of one signup that are still unconfirmed.

    Records a ``confirm`` consent (with the text of the signup) and queues the welcome
    messages. Confirming twice changes nothing the second time: ``confirmed`` is empty.
    A list the reader left since stays left. Raises :class:`NotFound` when the signup
    is gone.
    """
    now = utcnow()
    with db.write() as conn:
        # The reader is locked first, as by a signup: a purge of stale signups then
        # skips them, or has removed what it removes before this reads it.
        db_subscribers.get_for_update(conn, subscriber_id=subscriber_id)
        record, email = _signup_record(conn, subscriber_id, consent_id)
        confirmed = db_subscriptions.confirm_pending(conn, subscriber_id, record["list_ids"],
                                                     now)
        if confirmed:
            consents.record(conn, subscriber_id=subscriber_id, action="confirm",
                            source="email-link", list_ids=confirmed, now=now,
                            text_hash=record["text_hash"], ip=ip, user_agent=user_agent)
            signup_writes.queue_welcome(conn, email, subscriber_id, confirmed, now)
        lists = db_lists.by_ids(conn, record["list_ids"])
        subs = db_subscriptions.for_subscriber(conn, subscriber_id)
    return Confirmation(
        subscriber_email=email,
        confirmed=tuple(m for m in lists if m.id in confirmed),
        earlier=tuple(m for m in lists if m.id not in confirmed
                      and _status(subs, m.id) is SubscriptionStatus.CONFIRMED))


def _targets(conn: Connection, refs: Sequence[str]) -> list[MailingList]:
    return signup_writes.resolve_targets(signup_writes.public_lists(conn, refs), refs)


def _answer(targets: Sequence[MailingList]) -> Answer:
    return Answer(pending=any(t.optin is OptIn.DOUBLE for t in targets), lists=tuple(targets))


def _signup_record(conn: Connection, subscriber_id: int,
                   consent_id: int) -> tuple[dict[str, Any], str]:
    record = consents.get(conn, consent_id)
    subscriber = db_subscribers.get(conn, subscriber_id)
    if (record is None or subscriber is None or record["subscriber_id"] != subscriber_id
            or record["action"] != "signup"):
        raise NotFound("This signup no longer exists.")
    return record, subscriber.email


def _status(subs: dict[int, Any], list_id: int) -> SubscriptionStatus | None:
    found = subs.get(list_id)
    return found.status if found is not None else None


def shown_text_hash(db: Database, claimed: str | None) -> str:
    """The hash of the consent text a page says it showed, if Tidings stored that text;
    else the hash of today's text (stored now)."""
    known: set[str] = db.cache.setdefault(_KNOWN_TEXTS, set())
    claimed = (claimed or "").strip().lower()
    if claimed in known:
        return claimed
    if len(claimed) == 64:
        with db.read() as conn:
            if consents.has_text(conn, claimed):
                known.add(claimed)
                return claimed
    return remember_consent_text(db, current_consent_text(db))
