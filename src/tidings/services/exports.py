"""Exporting subscribers as CSV, streamed in batches (keyset pagination by id).

The columns are the ones :mod:`tidings.services.imports` reads back, so export
then import is a lossless round trip::

    email,name,attributes,status,subscriptions
    ann@example.com,Ann Ö,"{""city"":""Oslo"",""vip"":true}",enabled,"{""daily"":""confirmed""}"

``attributes`` and ``subscriptions`` are JSON objects (types kept); ``status`` is
the subscriber's (enabled or blocklisted); ``subscriptions`` maps list slugs to
subscription statuses (only the exported list's, when one is chosen).

Spreadsheets run cells that start with ``=``, ``+``, ``-``, ``@``, tab or CR as
formulas (CSV injection, and readers choose their own names). Every such cell,
and every cell that starts with ``'``, is written with a leading ``'``, which
spreadsheets show as text; importing a Tidings export removes it again.

Each batch is read in its own short transaction, so a slow consumer (an HTTP
download) holds no lock or snapshot; the export covers subscribers up to the
highest id at its start.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from tidings.db import exports as db_exports
from tidings.db.database import Database
from tidings.domain.errors import ValidationError
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.services.csv_rows import FORMULA_START
from tidings.services.lists import find as find_list

COLUMNS = ("email", "name", "attributes", "status", "subscriptions")
BATCH = 1000


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of the CSV text and how many subscriber rows it holds."""

    text: str
    rows: int


def batches(db: Database, *, list_ref: str | None = None,
            status: SubscriptionStatus | SubscriberStatus | None = None,
            batch_size: int = BATCH) -> Iterator[Chunk]:
    """The CSV: the header, then one chunk per batch of subscribers.

    Without a list, ``status`` filters on the subscriber status (enabled or
    blocklisted); with one, on the subscription status. Raises
    :class:`NotFound` for an unknown list and :class:`ValidationError` for a
    status that does not fit, before the first chunk.
    """
    list_id, subscription_status, subscriber_status = _filters(db, list_ref, status)
    return _chunks(db, list_id, subscription_status, subscriber_status, batch_size)


def _chunks(db: Database, list_id: int | None, subscription_status: str | None,
            subscriber_status: str | None, batch_size: int) -> Iterator[Chunk]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield Chunk(_take(buffer), 0)
    with db.read() as conn:
        max_id = db_exports.highest_id(conn)
    after = 0
    while True:
        with db.read() as conn:
            page = db_exports.page(conn, after_id=after, max_id=max_id, limit=batch_size,
                                   list_id=list_id, subscription_status=subscription_status,
                                   subscriber_status=subscriber_status)
            subs = db_exports.subscriptions_of(conn, [r.id for r in page], list_id)
        if not page:
            return
        for row in page:
            writer.writerow((
                _safe(row.email), _safe(row.name),
                json.dumps(row.attributes or {}, ensure_ascii=False, separators=(",", ":")),
                row.status,
                json.dumps(subs.get(row.id, {}), ensure_ascii=False, separators=(",", ":")),
            ))
        after = page[-1].id
        yield Chunk(_take(buffer), len(page))


def export_csv(db: Database, *, list_ref: str | None = None,
               status: SubscriptionStatus | SubscriberStatus | None = None) -> Iterator[str]:
    """The CSV text in chunks: what a streaming HTTP response sends."""
    return (chunk.text for chunk in batches(db, list_ref=list_ref, status=status))


def _filters(db: Database, list_ref: str | None,
             status: SubscriptionStatus | SubscriberStatus | None,
             ) -> tuple[int | None, str | None, str | None]:
    if list_ref is None:
        if status is not None and not isinstance(status, SubscriberStatus):
            raise ValidationError("Without a list, the status is enabled or blocklisted.",
                                  field="status")
        return None, None, str(status) if status else None
    if status is not None and not isinstance(status, SubscriptionStatus):
        raise ValidationError("With a list, the status is unconfirmed, confirmed or "
                              "unsubscribed.", field="status")
    with db.read() as conn:
        found = find_list(conn, list_ref)
    return found.id, str(status) if status else None, None


def _safe(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
