"""Building the engine's parts from settings: transports, rate, message builders."""

from __future__ import annotations

import os

from tidings.bootstrap import Runtime
from tidings.config import Settings
from tidings.db.database import open_database
from tidings.delivery import compose, relays
from tidings.delivery.capture import CaptureTransport
from tidings.delivery.engine import Engine
from tidings.delivery.pool import SmtpTransport
from tidings.delivery.rendering import RenderPool
from tidings.delivery.transport import Transport
from tidings.services import bounces


def transport_for(settings: Settings) -> Transport:
    """SMTP relays from ``TIDINGS_SMTP_URL``, or the capture outbox when there are none."""
    found = relays.parse_all(settings.smtp_urls)
    if not found:
        return CaptureTransport(settings.outbox_dir)
    return SmtpTransport(found, helo=settings.mail_domain, global_rate=settings.global_rate)


def max_rate(settings: Settings) -> float | None:
    """Messages per second the configuration allows at most (None: no limit)."""
    rates = []
    for relay in relays.parse_all(settings.smtp_urls):
        limits = [r for r in (relay.rate, relay.per_minute / 60, relay.per_hour / 3600) if r]
        rates.append(min(limits) if limits else None)
    total = None if not rates or None in rates else sum(r for r in rates if r is not None)
    if settings.global_rate > 0:
        return settings.global_rate if total is None else min(total, settings.global_rate)
    return total


WORKER_CACHE_MIB = 2


def render_processes() -> int:
    """Processes that render campaign messages: one per core, none on a single core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    return min(cores, 8) if cores > 1 else 0


def engine_for(runtime: Runtime, *, transport: Transport | None = None,
               processes: int | None = None) -> Engine:
    """The engine of a process: its transport, mail builders and rate (from settings).

    ``processes`` render campaign messages (default :func:`render_processes`; 0
    renders in the worker's own loop).
    """
    settings = runtime.settings
    count = render_processes() if processes is None else processes
    own_db = runtime.db.is_sqlite
    # On SQLite the worker gets connections of its own with a small page cache, so
    # that walking a large audience does not grow its memory (PostgreSQL caches on
    # the server).
    db = open_database(settings.database_url, pool_size=4, cache_mib=WORKER_CACHE_MIB) \
        if own_db else runtime.db
    return Engine(
        db=db, own_db=own_db, transport=transport or transport_for(settings),
        compose=compose.composer(settings.base_url, settings.mail_domain, runtime.tokens),
        build_system=compose.system_builder(settings.base_url, settings.mail_domain,
                                            runtime.tokens),
        max_rate=max_rate(settings), render_pool=RenderPool(count) if count else None,
        refusals=bounces.smtp_refusals(db), stall_timeout=settings.stall_timeout)
