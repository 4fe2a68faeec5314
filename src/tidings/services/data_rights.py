"""Readers' data rights: a copy of everything stored about them, and erasure.

Erasure deletes the subscriber and every row about them (subscriptions, consent
records, deliveries, bounces, queued messages, audit events) and keeps only a keyed
hash of the address in the suppression list (:mod:`tidings.services.suppressions`), so
that no later import, API call or signup can bring the address back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tidings import __version__
from tidings.db import consents, events, personal_data
from tidings.db import lists as db_lists
from tidings.db import subscribers as db_subscribers
from tidings.db import subscriptions as db_subscriptions
from tidings.db.database import Database
from tidings.domain.errors import NotFound
from tidings.domain.timezones import utcnow
from tidings.services import suppressions

FORMAT = "tidings.personal-data/1"


def export(db: Database, subscriber_id: int) -> dict[str, Any]:
    """Everything stored about one reader, as JSON-ready data (Art. 15 GDPR).

    Raises :class:`NotFound` when the reader is gone.
    """
    with db.read() as conn:
        subscriber = db_subscribers.get(conn, subscriber_id)
        if subscriber is None:
            raise NotFound("This reader no longer exists.")
        subs = db_subscriptions.for_subscriber(conn, subscriber_id)
        lists = {m.id: m for m in db_lists.by_ids(conn, list(subs))}
        records = consents.for_subscriber(conn, subscriber_id)
        consent_lists = {m.id: m for m in db_lists.by_ids(
            conn, sorted({i for r in records for i in r["list_ids"]}))}
        deliveries = personal_data.deliveries_of(conn, subscriber_id)
        bounces = personal_data.bounces_of(conn, subscriber_id)
        messages = personal_data.messages_to(conn, subscriber_id, subscriber.email)

    def names(ids: list[int]) -> list[str]:
        return [consent_lists[i].name if i in consent_lists else f"(deleted list {i})"
                for i in ids]

    exported: dict[str, Any] = _jsonable({
        "format": FORMAT,
        "exported_at": utcnow(),
        "generator": f"Tidings {__version__}",
        "profile": {
            "id": subscriber.uid, "email": subscriber.email, "name": subscriber.name,
            "status": str(subscriber.status), "attributes": subscriber.attributes,
            "created_at": subscriber.created_at, "updated_at": subscriber.updated_at,
        },
        "subscriptions": [{
            "list": lists[s.list_id].name, "list_id": lists[s.list_id].uid,
            "status": str(s.status), "created_at": s.created_at,
            "confirmed_at": s.confirmed_at, "unsubscribed_at": s.unsubscribed_at,
        } for s in sorted(subs.values(), key=lambda s: s.list_id)],
        "consents": [{
            "at": r["created_at"], "action": r["action"], "source": r["source"],
            "lists": names(r["list_ids"]), "ip": r["ip"], "user_agent": r["user_agent"],
            "text": r["text"], "text_sha256": r["text_hash"],
        } for r in records],
        "deliveries": deliveries,
        "bounces": bounces,
        "messages": messages,
    })
    return exported


def erase(db: Database, subscriber_id: int) -> bool:
    """Erase the reader and suppress their address; False when already gone (Art. 17)."""
    now = utcnow()
    with db.write() as conn:
        subscriber = db_subscribers.get_for_update(conn, subscriber_id=subscriber_id)
        if subscriber is None:
            return False
        suppressions.suppress(conn, subscriber.email, "erased")
        personal_data.erase(conn, {subscriber_id: subscriber.email})
        # The audit trail keeps that an erasure happened, never whose.
        events.record(conn, "subscriber.erased", now, actor="reader")
    return True


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
