"""Adding, finding, changing and removing subscribers one at a time.

Bulk paths (CSV import and export) are in :mod:`tidings.services.imports` and
:mod:`tidings.services.exports`; reader-facing flows (signup, confirmation,
preferences) in :mod:`tidings.services.signups`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tidings.db import consents, events
from tidings.db import lists as db_lists
from tidings.db import subscribers as db_subscribers
from tidings.db import subscriptions as db_subscriptions
from tidings.db.database import Database
from tidings.domain import emails
from tidings.domain import subscriptions as machine
from tidings.domain.errors import Conflict, NotFound, Suppressed, ValidationError
from tidings.domain.ids import as_internal_id, looks_like_uid, new_uid, plausible_ref
from tidings.domain.lists import MailingList
from tidings.domain.subscribers import (
    MAX_ATTRIBUTES_BYTES,
    Subscriber,
    SubscriberStatus,
    check_name,
)
from tidings.domain.subscriptions import Subscription, SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.services import outbox, suppressions
from tidings.services.lists import find as find_list


@dataclass(frozen=True, slots=True)
class Profile:
    """A subscriber with their subscriptions, keyed by list."""

    subscriber: Subscriber
    subscriptions: dict[int, Subscription]
    lists: dict[int, MailingList]


def check_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Attributes are a JSON object of at most 64 KiB."""
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise ValidationError("Attributes must be a JSON object.", field="attributes")
    try:
        encoded = json.dumps(dict(attributes), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise ValidationError("Attributes must be JSON values.", field="attributes") from None
    if "\\u0000" in encoded:  # PostgreSQL's JSONB cannot store NUL characters
        raise ValidationError("Attributes must not contain NUL characters.",
                              field="attributes")
    if len(encoded.encode("utf-8")) > MAX_ATTRIBUTES_BYTES:
        raise ValidationError("Attributes are larger than 64 KiB.", field="attributes")
    return dict(json.loads(encoded))


def add(db: Database, *, email: str, name: str | None = "",
        attributes: Mapping[str, Any] | None = None, lists: Sequence[str] = (),
        preconfirmed: bool = False, source: str = "admin", actor: str | None = None,
        consent_text: str | None = None, ip: str | None = None,
        user_agent: str | None = None, api_key_id: int | None = None,
        user_id: int | None = None, send_confirmation: bool = False) -> Subscriber:
    """Create a subscriber, optionally subscribed to ``lists`` with a consent record.

    With ``send_confirmation``, subscriptions left unconfirmed (double opt-in lists,
    not ``preconfirmed``) queue the confirmation email in the same transaction.

    Raises :class:`InvalidEmail`, :class:`Conflict` (address exists),
    :class:`Suppressed` (address was erased or blocked), :class:`NotFound` (list).
    """
    address = emails.normalize(email)
    clean_name = check_name(name)
    clean_attributes = check_attributes(attributes)
    now = utcnow()
    try:
        with db.write() as conn:
            targets = [find_list(conn, ref) for ref in lists]
            if suppressions.suppressed(conn, [address]):
                raise Suppressed("This address asked never to be mailed again.")
            subscriber = db_subscribers.insert_subscriber(
                conn, uid=new_uid(), email=address, name=clean_name,
                attributes=clean_attributes, status=SubscriberStatus.ENABLED, now=now)
            if targets:
                text_hash = consents.store_text(conn, consent_text, now) if consent_text else None
                consent_id = consents.record(
                    conn, subscriber_id=subscriber.id, action="subscribe", source=source,
                    list_ids=[t.id for t in targets], now=now, text_hash=text_hash, ip=ip,
                    user_agent=user_agent, api_key_id=api_key_id, user_id=user_id)
                waiting = []
                for target in targets:
                    status = machine.subscribe(None, target.optin, consent=True,
                                               preconfirmed=preconfirmed)
                    db_subscriptions.put(conn, subscriber.id, target.id, status, now,
                                         existing=None, consent_id=consent_id)
                    if status is SubscriptionStatus.UNCONFIRMED:
                        waiting.append(target.id)
                if waiting and send_confirmation:
                    outbox.enqueue(conn, kind="confirmation", to_email=address,
                                   subscriber_id=subscriber.id, now=now,
                                   payload={"consent_id": consent_id, "list_ids": waiting})
            events.record(conn, "subscriber.created", now, actor=actor,
                          subject_type="subscriber", subject_id=subscriber.id,
                          data={"source": source})
    except IntegrityError:
        raise Conflict("A subscriber with this address exists already.", field="email") from None
    return subscriber


def find(conn: Connection, ref: str) -> Subscriber:
    """Find a subscriber by address, public id or integer id; raise :class:`NotFound`."""
    ref = ref.strip()
    if not plausible_ref(ref):
        raise NotFound("No such subscriber.")
    found = None
    if "@" in ref:
        found = db_subscribers.get_by_email(conn, ref)
    elif looks_like_uid(ref):
        found = db_subscribers.get_by_uid(conn, ref)
    if found is None and as_internal_id(ref) is not None:
        found = db_subscribers.get(conn, int(ref))
    if found is None:
        raise NotFound("No such subscriber.")
    return found


def get(db: Database, ref: str) -> Subscriber:
    with db.read() as conn:
        return find(conn, ref)


def profile(db: Database, ref: str) -> Profile:
    with db.read() as conn:
        subscriber = find(conn, ref)
        subs = db_subscriptions.for_subscriber(conn, subscriber.id)
        found = {m.id: m for m in db_lists.by_ids(conn, list(subs))}
    return Profile(subscriber=subscriber, subscriptions=subs, lists=found)


def update(db: Database, ref: str, *, name: str | None = None,
           attributes: Mapping[str, Any] | None = None, status: SubscriberStatus | None = None,
           actor: str | None = None) -> Subscriber:
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = check_name(name)
    if attributes is not None:
        values["attributes"] = check_attributes(attributes)
    if status is not None:
        values["status"] = SubscriberStatus(status)
    now = utcnow()
    with db.write() as conn:
        subscriber = find(conn, ref)
        if not values:
            return subscriber
        changed = db_subscribers.update_subscriber(conn, subscriber.id, now, **values)
        events.record(conn, "subscriber.updated", now, actor=actor, subject_type="subscriber",
                      subject_id=subscriber.id, data={"fields": sorted(values)})
    return changed


def delete(db: Database, ref: str, *, actor: str | None = None) -> Subscriber:
    """Delete a subscriber with their subscriptions, consents and deliveries."""
    now = utcnow()
    with db.write() as conn:
        subscriber = find(conn, ref)
        db_subscribers.delete_subscriber(conn, subscriber.id)
        events.record(conn, "subscriber.deleted", now, actor=actor, subject_type="subscriber",
                      subject_id=subscriber.id)
    return subscriber


def count(db: Database, *, list_ref: str | None = None,
          status: SubscriptionStatus | SubscriberStatus | None = None) -> int:
    """All subscribers (by subscriber status), or a list's members (by subscription status)."""
    with db.read() as conn:
        if list_ref is None:
            if status is not None and not isinstance(status, SubscriberStatus):
                raise ValidationError("Without a list, the status is enabled or blocklisted.",
                                      field="status")
            return db_subscribers.count(conn, status=str(status) if status else None)
        if status is not None and not isinstance(status, SubscriptionStatus):
            raise ValidationError("With a list, the status is unconfirmed, confirmed or "
                                  "unsubscribed.", field="status")
        target = find_list(conn, list_ref)
        return db_subscribers.count(conn, list_id=target.id,
                                    status=str(status) if status else None)


def subscription_status(value: str) -> SubscriptionStatus | SubscriberStatus:
    """Parse a status given on the command line or in a query string."""
    for enum in (SubscriptionStatus, SubscriberStatus):
        try:
            return enum(value)
        except ValueError:
            continue
    raise ValidationError(f"Unknown status {value!r}.", field="status")
