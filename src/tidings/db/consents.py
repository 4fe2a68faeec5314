"""Queries on consent records and the texts they point at."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from tidings.db.tables import consent_texts, consents, subscribers


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def store_text(conn: Connection, text: str, now: datetime) -> str:
    """Store the exact consent text once; return its sha256 hash."""
    digest = text_hash(text)
    exists = conn.execute(
        select(consent_texts.c.hash).where(consent_texts.c.hash == digest)).first()
    if exists is None:
        conn.execute(insert(consent_texts).values(hash=digest, text=text, created_at=now))
    return digest


def record(conn: Connection, *, subscriber_id: int | None, action: str, source: str,
           list_ids: Sequence[int], now: datetime, text_hash: str | None = None,
           ip: str | None = None, user_agent: str | None = None,
           api_key_id: int | None = None, user_id: int | None = None) -> int:
    """Insert one consent record; return its id.

    ``subscriber_id`` is None only for an import's shared record, which the subscribers
    it added name in ``subscribers.import_consent_id``.
    """
    return int(conn.execute(_INSERT, {
        "subscriber_id": subscriber_id, "action": action, "source": source,
        "list_ids": list(list_ids), "text_hash": text_hash, "ip": ip,
        "user_agent": (user_agent or None) and user_agent[:512], "api_key_id": api_key_id,
        "user_id": user_id, "created_at": now,
    }).scalar_one())


def record_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert consent records (each with every column but ``id``); return their ids, in
    the order of ``rows``."""
    if not rows:
        return []
    return [int(i) for i in conn.execute(_INSERT_ORDERED, list(rows)).scalars()]


# Built once: signups write a consent record each, and building a statement costs more
# than running it.
_INSERT = insert(consents).returning(consents.c.id)
_INSERT_ORDERED = insert(consents).returning(consents.c.id, sort_by_parameter_order=True)


def for_subscriber(conn: Connection, subscriber_id: int) -> list[dict[str, Any]]:
    """Every consent record of a subscriber, oldest first, with the text shown: their
    own, and the shared record of the import that added them, if one did."""
    imported = (select(subscribers.c.import_consent_id)
                .where(subscribers.c.id == subscriber_id).scalar_subquery())
    rows = conn.execute(
        select(consents, consent_texts.c.text)
        .join(consent_texts, consent_texts.c.hash == consents.c.text_hash, isouter=True)
        .where(or_(consents.c.subscriber_id == subscriber_id, consents.c.id == imported))
        .order_by(consents.c.created_at, consents.c.id))
    return [dict(r._mapping) for r in rows]


def get(conn: Connection, consent_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(consents).where(consents.c.id == consent_id)).one_or_none()
    return dict(row._mapping) if row else None


def has_text(conn: Connection, digest: str) -> bool:
    """Whether a consent text with this sha256 hash is stored."""
    return conn.execute(
        select(consent_texts.c.hash).where(consent_texts.c.hash == digest)).first() is not None
