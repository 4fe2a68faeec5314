"""The preference centre and unsubscribing: readers changing their own subscriptions.

The reader is identified by a signed token from an email they received
(:mod:`tidings.mail.links`), which proves they read that mailbox; so lists added here
are confirmed at once, with a consent record of source ``preferences``. Every change,
including each withdrawal, is recorded as a consent record.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection

from tidings.db import consents, events
from tidings.db import lists as db_lists
from tidings.db import subscribers as db_subscribers
from tidings.db import subscriptions as db_subscriptions
from tidings.db.database import Database
from tidings.domain import subscriptions as machine
from tidings.domain.errors import NotFound, ValidationError
from tidings.domain.lists import MailingList, Visibility
from tidings.domain.subscribers import Subscriber, check_name
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.services import signup_writes
from tidings.services.signups import UNKNOWN_LIST

ACTIVE = frozenset({SubscriptionStatus.UNCONFIRMED, SubscriptionStatus.CONFIRMED})
UNSUBSCRIBE_SOURCES = frozenset({"one-click", "page", "preferences", "email"})


@dataclass(frozen=True, slots=True)
class Choice:
    """One list on the preference page and the reader's state on it."""

    list: MailingList
    status: SubscriptionStatus | None

    @property
    def subscribed(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True, slots=True)
class Preferences:
    subscriber: Subscriber
    choices: tuple[Choice, ...]


def load(db: Database, subscriber_id: int) -> Preferences:
    """The reader and the lists they may choose: every public list, and the private
    lists they are on. Raises :class:`NotFound` when the reader is gone."""
    with db.read() as conn:
        return _load(conn, subscriber_id)


def save(db: Database, subscriber_id: int, *, wanted: Collection[str], name: str | None,
         text_hash: str | None = None, ip: str | None = None,
         user_agent: str | None = None) -> Preferences:
    """Subscribe to the lists in ``wanted`` (public ids) and leave the others shown.

    ``text_hash`` names the consent text the page showed (stored already). Raises
    :class:`ValidationError` for a list not offered to this reader.
    """
    clean_name = check_name(name) if name is not None else None
    now = utcnow()
    with db.write() as conn:
        subscriber = db_subscribers.get_for_update(conn, subscriber_id=subscriber_id)
        if subscriber is None:
            raise NotFound("This reader no longer exists.")
        current = _load(conn, subscriber_id, subscriber)
        offered = {c.list.uid: c for c in current.choices}
        if any(uid not in offered for uid in wanted):
            raise ValidationError(UNKNOWN_LIST, field="lists")
        adding = [c for c in current.choices if c.list.uid in wanted and not c.subscribed]
        leaving = [c.list.id for c in current.choices
                   if c.list.uid not in wanted and c.subscribed]
        if adding:
            consent_id = consents.record(
                conn, subscriber_id=subscriber_id, action="change", source="preferences",
                list_ids=[c.list.id for c in adding], now=now, text_hash=text_hash, ip=ip,
                user_agent=user_agent)
            subs = db_subscriptions.for_subscriber(conn, subscriber_id)
            for choice in adding:
                status = machine.subscribe(choice.status, choice.list.optin, consent=True,
                                           preconfirmed=True)
                db_subscriptions.put(conn, subscriber_id, choice.list.id, status, now,
                                     existing=subs.get(choice.list.id), consent_id=consent_id)
            signup_writes.queue_welcome(conn, subscriber.email, subscriber_id,
                                  [c.list.id for c in adding], now)
        if leaving:
            _leave(conn, subscriber_id, leaving, source="preferences", ip=ip,
                   user_agent=user_agent)
        if clean_name is not None and clean_name != subscriber.name:
            db_subscribers.update_subscriber(conn, subscriber_id, now, name=clean_name)
        return _load(conn, subscriber_id)


def unsubscribe(db: Database, subscriber_id: int, list_id: int | None, *, source: str,
                campaign_id: int = 0, ip: str | None = None,
                user_agent: str | None = None) -> list[int]:
    """Leave one list (or every list with ``list_id`` None); return the lists left.

    Idempotent: leaving again, or a reader who is gone, changes nothing and returns [].
    """
    if source not in UNSUBSCRIBE_SOURCES:
        raise ValidationError("Unknown unsubscribe source.", field="source")
    with db.write() as conn:
        return _leave(conn, subscriber_id, None if list_id is None else [list_id],
                      source=source, ip=ip, user_agent=user_agent, campaign_id=campaign_id)


def _leave(conn: Connection, subscriber_id: int, list_ids: list[int] | None, *, source: str,
           ip: str | None, user_agent: str | None, campaign_id: int = 0) -> list[int]:
    now = utcnow()
    left = db_subscriptions.end(conn, subscriber_id, list_ids, now)
    if left:
        consents.record(conn, subscriber_id=subscriber_id, action="unsubscribe", source=source,
                        list_ids=left, now=now, ip=ip, user_agent=user_agent)
        events.record(conn, "subscriber.unsubscribed", now, actor="reader",
                      subject_type="subscriber", subject_id=subscriber_id,
                      data={"lists": left, "campaign_id": campaign_id or None,
                            "source": source})
    return left


def _load(conn: Connection, subscriber_id: int,
          subscriber: Subscriber | None = None) -> Preferences:
    subscriber = subscriber or db_subscribers.get(conn, subscriber_id)
    if subscriber is None:
        raise NotFound("This reader no longer exists.")
    subs = db_subscriptions.for_subscriber(conn, subscriber_id)
    choices = []
    for mailing_list in db_lists.all_lists(conn):
        found = subs.get(mailing_list.id)
        status = found.status if found else None
        if mailing_list.visibility is Visibility.PUBLIC or status in ACTIVE:
            choices.append(Choice(list=mailing_list, status=status))
    return Preferences(subscriber=subscriber, choices=tuple(choices))
