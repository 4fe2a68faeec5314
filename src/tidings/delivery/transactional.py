"""Sending the transactional outbox: confirmations, welcomes, tests, password resets.

The worker calls :func:`send_due` several times a second. Each pass claims the due
messages (the claim pushes their next attempt five minutes on, so a crash retries
them then), builds them, hands them to the transport and records the results in
one transaction. A temporary refusal is retried with back-off; a permanent one, or
a message that cannot be built (its subscriber was erased meanwhile), fails with
the reason kept in ``last_error``. A permanent refusal of a message to a subscriber
is also handed to the engine's refusal handler, like a campaign's (a bounce: a
confirmation refused with ``550 5.1.1`` blocklists its reader), in the same
transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection

from tidings.db.outbox import QueuedMessage
from tidings.delivery.engine import Engine
from tidings.delivery.transport import UNSENT, Ticket
from tidings.domain.timezones import utcnow
from tidings.services import outbox
from tidings.services.outbox import Settled

log = logging.getLogger("tidings.delivery")

CLAIM_LEASE = 300.0


def _build(engine: Engine, queued: list[QueuedMessage]) -> tuple[Ticket, list[Settled]]:
    ticket = Ticket(urgent=True)  # a reader waits for it: before campaign mail
    failed = []
    for message in queued:
        try:
            built = engine.build_system(engine.db, message.kind, message.to_email,
                                        message.payload)
        except Exception as exc:
            log.warning("outbox message %s (%s) cannot be built: %s", message.id,
                        message.kind, exc)
            failed.append(Settled(message.id, error=f"Cannot build the message: {exc}"))
            continue
        ticket.add(built.envelope_from, built.recipient, built.data, message.id, ready=True)
    return ticket, failed


async def send_due(engine: Engine, *, limit: int = 50) -> int:
    """Send what is due now; return how many messages were handled."""
    queued = await asyncio.to_thread(outbox.take_due, engine.db, limit=limit,
                                     lease=CLAIM_LEASE)
    if not queued:
        return 0
    ticket, results = await asyncio.to_thread(_build, engine, queued)
    attempts = {m.id: m.attempts for m in queued}
    readers = {m.id: m.subscriber_id for m in queued}
    refused: list[tuple[int, int, str]] = []
    engine.transport.submit(ticket)
    now = utcnow()
    for job in await ticket.wait():
        reply = job.reply or UNSENT
        if reply.ok:
            results.append(Settled(job.key, sent=True))
        elif reply.code == 0:
            results.append(Settled(job.key, retry_at=now, attempted=False))
        elif reply.temporary and not engine.outbox_policy.gives_up(attempts[job.key]):
            delay = engine.outbox_policy.delay(attempts[job.key])
            results.append(Settled(job.key, error=str(reply),
                                   retry_at=utcnow() + timedelta(seconds=delay)))
        else:
            results.append(Settled(job.key, error=str(reply)))
            reader = readers[job.key]
            if reply.permanent and reader is not None:
                refused.append((reader, reply.code, reply.text))
    await asyncio.to_thread(outbox.settle, engine.db, results, _bounces(engine, refused))
    return len(queued)


def _bounces(engine: Engine, refused: list[tuple[int, int, str]]
             ) -> Callable[[Connection, datetime], None] | None:
    """What settling the pass also writes: the refusals, as bounces of their readers."""
    handler = engine.refusals
    if not refused or handler is None:
        return None
    return lambda conn, now: handler(conn, None, refused, now)
