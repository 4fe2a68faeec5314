"""Readers signing up from public forms, and confirming by email (double opt-in).

A signup is one short write transaction: the subscriber (created if new), one consent
record (when, IP address, user agent, source, lists, and the hash of the exact consent
text shown), the subscriptions, and, in the same transaction, the confirmation email
queued in the transactional outbox (:mod:`tidings.services.outbox`).

What the reader is told depends only on what they asked for, never on what Tidings
already knows about the address: a new, a pending, an already subscribed, a
blocklisted and an erased address all get the same :class:`Answer`. Nothing here
reveals whether an address is on file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tidings.db import consents
from tidings.db import lists as db_lists
from tidings.db import subscribers as db_subscribers
from tidings.db import subscriptions as db_subscriptions
from tidings.db import suppressions as db_suppressions
from tidings.db.database import Database
from tidings.db.types import utcnow
from tidings.domain import emails
from tidings.domain import subscriptions as machine
from tidings.domain.errors import NotFound, ValidationError
from tidings.domain.ids import new_uid
from tidings.domain.lists import MailingList, OptIn
from tidings.domain.subscribers import SubscriberStatus, check_name
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.services import outbox, runtime_settings, suppressions

SOURCES = frozenset({"form", "embed", "api"})
MAX_LISTS = 50
NO_LIST = "Please select at least one mailing list."
UNKNOWN_LIST = "That newsletter is not available."
STALE_FORM = "This form is out of date. Please reload the page and try again."

_KNOWN_TEXTS = "signups.consent_texts"   # db.cache: hashes known to be stored
_SUPPRESSION_KEY = "signups.suppression_key"


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
    if request.source not in SOURCES:
        raise ValidationError("Unknown signup source.", field="source")
    address = emails.normalize(request.email)
    name = check_name(request.name)
    refs = check_lists(request.lists)
    if quiet:
        with db.read() as conn:
            return _answer(_targets(conn, refs))
    values = runtime_settings.get_all(db)
    now = utcnow()
    with db.write() as conn:
        targets = _targets(conn, refs)
        text_hash, stored = _consent_hash(db, conn, request.consent_hash, consent_text(values))
        _record(conn, db, request, address, name, targets, text_hash, values, now)
    if stored:  # only once committed: consent records point at the text
        db.cache.setdefault(_KNOWN_TEXTS, set()).add(text_hash)
    return _answer(targets)


def _record(conn: Connection, db: Database, request: Signup, address: str, name: str,
            targets: Sequence[MailingList], text_hash: str, values: dict[str, Any],
            now: datetime) -> None:
    if _suppressed(db, conn, address):
        return
    new_id = db_subscribers.insert_if_new(conn, uid=new_uid(), email=address, name=name,
                                          now=now)
    if new_id is None:
        existing = db_subscribers.get_for_update(conn, email=address)
        if existing is None or existing.status is SubscriberStatus.BLOCKLISTED:
            return
        subscriber_id = existing.id
        current = db_subscriptions.for_subscriber(conn, subscriber_id)
    else:
        subscriber_id, current = new_id, {}
    consent_id = consents.record(
        conn, subscriber_id=subscriber_id, action="signup", source=request.source,
        list_ids=[t.id for t in targets], now=now, text_hash=text_hash, ip=request.ip,
        user_agent=request.user_agent)
    fresh: dict[int, SubscriptionStatus] = {}
    pending: list[int] = []
    welcome: list[int] = []
    for target in targets:
        before = current.get(target.id)
        status = machine.subscribe(before.status if before else None, target.optin,
                                   consent=True)
        if before is None:
            fresh[target.id] = status
        elif status is not before.status or status is SubscriptionStatus.UNCONFIRMED:
            db_subscriptions.put(conn, subscriber_id, target.id, status, now,
                                 existing=before, consent_id=consent_id)
        if status is SubscriptionStatus.UNCONFIRMED:
            pending.append(target.id)
        elif before is None or before.status is not SubscriptionStatus.CONFIRMED:
            welcome.append(target.id)
    db_subscriptions.insert_many(conn, subscriber_id, fresh, now, consent_id=consent_id)
    # A brand-new subscriber row has had no confirmation yet (messages to an address
    # deleted earlier went with its old row), so the count is spared.
    limit = int(values["signup.confirmations_per_day"])
    if pending and (new_id is not None or outbox.sent_recently(
            conn, to_email=address, kind="confirmation") < limit):
        outbox.enqueue(conn, kind="confirmation", to_email=address,
                       subscriber_id=subscriber_id, now=now,
                       payload={"consent_id": consent_id, "list_ids": pending})
    queue_welcome(conn, address, subscriber_id, welcome, now)


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
        record, email = _signup_record(conn, subscriber_id, consent_id)
        confirmed = db_subscriptions.confirm_pending(conn, subscriber_id, record["list_ids"],
                                                     now)
        if confirmed:
            consents.record(conn, subscriber_id=subscriber_id, action="confirm",
                            source="email-link", list_ids=confirmed, now=now,
                            text_hash=record["text_hash"], ip=ip, user_agent=user_agent)
            queue_welcome(conn, email, subscriber_id, confirmed, now)
        lists = db_lists.by_ids(conn, record["list_ids"])
        subs = db_subscriptions.for_subscriber(conn, subscriber_id)
    return Confirmation(
        subscriber_email=email,
        confirmed=tuple(m for m in lists if m.id in confirmed),
        earlier=tuple(m for m in lists if m.id not in confirmed
                      and _status(subs, m.id) is SubscriptionStatus.CONFIRMED))


def _answer(targets: Sequence[MailingList]) -> Answer:
    return Answer(pending=any(t.optin is OptIn.DOUBLE for t in targets), lists=tuple(targets))


def _targets(conn: Connection, refs: Sequence[str]) -> list[MailingList]:
    found = db_lists.public_by_refs(conn, refs)
    by_ref: dict[str, MailingList] = {}
    for mailing_list in found:
        by_ref.update({mailing_list.uid: mailing_list, mailing_list.slug: mailing_list,
                       str(mailing_list.id): mailing_list})
    if any(ref not in by_ref for ref in refs):
        # Unknown and private lists look alike: a form cannot probe for private ones.
        raise ValidationError(UNKNOWN_LIST, field="lists")
    return list({by_ref[ref].id: by_ref[ref] for ref in refs}.values())


def _consent_hash(db: Database, conn: Connection, claimed: str | None,
                  current: str) -> tuple[str, bool]:
    """The hash of the text the form showed (the one it names, or today's text), and
    whether this transaction stores it."""
    known: set[str] = db.cache.setdefault(_KNOWN_TEXTS, set())
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


def _suppressed(db: Database, conn: Connection, address: str) -> bool:
    key = db.cache.get(_SUPPRESSION_KEY)
    if key is None:
        key = db.cache[_SUPPRESSION_KEY] = suppressions.key(conn)
    return bool(db_suppressions.present(conn, [suppressions.digest(key, address)]))


def queue_welcome(conn: Connection, address: str, subscriber_id: int,
                  list_ids: Sequence[int], now: datetime) -> None:
    """Queue the welcome message of each of ``list_ids`` that has one."""
    for list_id in db_lists.with_welcome(conn, list_ids):
        outbox.enqueue(conn, kind="welcome", to_email=address, subscriber_id=subscriber_id,
                       payload={"list_id": list_id}, now=now)


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
