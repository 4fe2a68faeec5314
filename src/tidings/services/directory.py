"""Finding subscribers: pages of search results and one subscriber's whole record.

Pages are keyset-paginated (see :mod:`tidings.db.subscriber_pages`); the cursor that
leaves Tidings is opaque text, not the internal id.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from tidings.db import consents, events, subscriber_pages
from tidings.db import lists as db_lists
from tidings.db import subscriptions as db_subscriptions
from tidings.db.database import Database
from tidings.domain.errors import ValidationError
from tidings.domain.lists import MailingList
from tidings.domain.subscribers import Subscriber, SubscriberStatus
from tidings.domain.subscriptions import Subscription, SubscriptionStatus
from tidings.services.lists import find as find_list
from tidings.services.subscribers import find as find_subscriber

MAX_PAGE = 500
MAX_QUERY = 200


def encode_cursor(key: int, kind: str = "s") -> str:
    """An opaque cursor for keyset pages over ids (``kind``: one letter per collection)."""
    return base64.urlsafe_b64encode(f"{kind}{key}".encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str, kind: str = "s") -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(kind) or not raw[1:].isascii() or not raw[1:].isdigit() \
                or len(raw) > 19:
            raise ValueError(raw)
        return int(raw[1:])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationError("The cursor is not valid.", field="cursor") from None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Subscriber]
    next_cursor: str | None
    memberships: dict[int, dict[int, str]] = field(default_factory=dict)


def browse(db: Database, *, query: str = "", list_ref: str | None = None,
           list_status: SubscriptionStatus | None = None,
           status: SubscriberStatus | None = None, cursor: str | None = None,
           limit: int = 50) -> Page:
    """One page of subscribers, newest first, matching every filter given."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"The limit is between 1 and {MAX_PAGE}.", field="limit")
    query = query.strip()
    if len(query) > MAX_QUERY or any(ord(c) < 32 for c in query):
        raise ValidationError("The search text is too long or has control characters.",
                              field="q")
    if list_status is not None and not list_ref:
        raise ValidationError("A subscription status needs a list.", field="list_status")
    before = decode_cursor(cursor) if cursor else None
    with db.read() as conn:
        list_id = find_list(conn, list_ref).id if list_ref else None
        items = subscriber_pages.page(
            conn, query=query, list_id=list_id,
            list_status=str(list_status) if list_status else None,
            status=str(status) if status else None, before_id=before, limit=limit + 1)
        more = len(items) > limit
        items = items[:limit]
        member = subscriber_pages.memberships(conn, [s.id for s in items])
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None,
                memberships=member)


@dataclass(frozen=True, slots=True)
class Record:
    """Everything known about one subscriber, for their admin page."""

    subscriber: Subscriber
    subscriptions: dict[int, Subscription]
    lists: dict[int, MailingList]
    consents: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    bounces: list[dict[str, Any]]
    events: list[dict[str, Any]]


def record(db: Database, ref: str) -> Record:
    with db.read() as conn:
        subscriber = find_subscriber(conn, ref)
        subs = db_subscriptions.for_subscriber(conn, subscriber.id)
        return Record(
            subscriber=subscriber, subscriptions=subs,
            lists={m.id: m for m in db_lists.all_lists(conn)},
            consents=consents.for_subscriber(conn, subscriber.id),
            deliveries=subscriber_pages.deliveries_of(conn, subscriber.id),
            bounces=subscriber_pages.bounces_of(conn, subscriber.id),
            events=events.recent(conn, limit=30, subject_type="subscriber",
                                 subject_id=subscriber.id))
