"""Editors and API clients changing a subscriber's subscriptions.

Readers change their own through :mod:`tidings.services.signups`; here the change
comes from the admin UI or the API, and every (re)subscription records a consent
with that source, as the subscription state machine demands.
"""

from __future__ import annotations

from tidings.db import consents, events
from tidings.db import subscriptions as db_subscriptions
from tidings.db.database import Database
from tidings.domain import subscriptions as machine
from tidings.domain.errors import ValidationError
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.subscriptions import Subscription, SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.services import outbox
from tidings.services.lists import find as find_list
from tidings.services.subscribers import find as find_subscriber


def put(db: Database, subscriber_ref: str, list_ref: str, status: SubscriptionStatus, *,
        source: str, actor: str, user_id: int | None = None,
        api_key_id: int | None = None) -> Subscription:
    """Move one subscription to ``status`` (subscribe, confirm or unsubscribe).

    ``confirmed`` states that the caller holds the reader's consent and records it;
    ``unconfirmed`` starts double opt-in as a signup would (queueing the confirmation
    email); ``unsubscribed`` ends it.
    """
    status = SubscriptionStatus(status)
    now = utcnow()
    with db.write() as conn:
        subscriber = find_subscriber(conn, subscriber_ref)
        target = find_list(conn, list_ref)
        if status is not SubscriptionStatus.UNSUBSCRIBED and \
                subscriber.status is SubscriberStatus.BLOCKLISTED:
            raise ValidationError("This subscriber is blocklisted; unblock them first.",
                                  field="status")
        existing = db_subscriptions.for_subscriber(conn, subscriber.id).get(target.id)
        current = existing.status if existing else None
        consent_id = None
        if status is SubscriptionStatus.UNSUBSCRIBED:
            new = machine.unsubscribe(current)
            action = "unsubscribe"
        else:
            new = machine.subscribe(current, target.optin, consent=True,
                                    preconfirmed=status is SubscriptionStatus.CONFIRMED)
            action = "subscribe"
        if new is current:
            assert existing is not None
            return existing
        consent_id = consents.record(conn, subscriber_id=subscriber.id, action=action,
                                     source=source, list_ids=[target.id], now=now,
                                     user_id=user_id, api_key_id=api_key_id)
        changed = db_subscriptions.put(
            conn, subscriber.id, target.id, new, now, existing=existing,
            consent_id=consent_id if action == "subscribe" else None)
        if new is SubscriptionStatus.UNCONFIRMED:
            outbox.enqueue(conn, kind="confirmation", to_email=subscriber.email,
                           subscriber_id=subscriber.id, now=now,
                           payload={"consent_id": consent_id, "list_ids": [target.id]})
        events.record(conn, f"subscription.{new}", now, actor=actor,
                      subject_type="subscriber", subject_id=subscriber.id,
                      data={"list": target.slug, "source": source})
    return changed
