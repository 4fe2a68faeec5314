"""The worker: sends running campaigns and the outbox, starts due schedules.

One asyncio loop does everything:

* every second it looks for running campaigns and starts a :class:`CampaignRun`
  for each one it can take the lease of;
* several times a second it sends due transactional messages;
* every few seconds it calls :func:`tidings.services.scheduling.run_due` and renews
  its heartbeat (``worker:<holder>`` lease), which tells ``tidings campaigns send
  --wait`` that a worker is running.

:func:`run_worker` runs it until an event is set; :mod:`~tidings.delivery.inline`
runs it in a thread of ``tidings serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import platform
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from tidings.db import campaigns as db_campaigns
from tidings.db import leases
from tidings.db.database import Database
from tidings.delivery import transactional
from tidings.delivery.campaigns import CampaignRun
from tidings.delivery.engine import Engine, holder_is_dead
from tidings.domain.timezones import utcnow
from tidings.services import scheduling

log = logging.getLogger("tidings.delivery")

OUTBOX_INTERVAL = 0.25
DISCOVER_INTERVAL = 1.0
SCHEDULE_INTERVAL = 5.0
HEARTBEAT_TTL = 15.0
HEARTBEAT_PREFIX = "worker:"
DB_THREADS = 2
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def workers_alive(db: Database) -> list[str]:
    """Holders of live worker heartbeats (other processes included)."""
    with db.read() as conn:
        return leases.holders(conn, HEARTBEAT_PREFIX, utcnow())


class Worker:
    """Runs campaigns (all running ones, or only ``campaign_ids``) and the outbox."""

    def __init__(self, engine: Engine, *, campaign_ids: Iterable[int] | None = None,
                 outbox: bool = True, schedules: bool = True, heartbeat: bool = True) -> None:
        self.engine = engine
        self.only = set(campaign_ids) if campaign_ids is not None else None
        self.outbox = outbox
        self.schedules = schedules
        self.heartbeat = heartbeat
        self.runs: dict[int, tuple[CampaignRun, asyncio.Task[None]]] = {}
        self.ready = asyncio.Event()  # set once the transport and render processes are up

    async def run(self, stop: asyncio.Event) -> None:
        engine = self.engine
        fix_mmap_threshold()
        await engine.transport.start()
        if engine.render_pool is not None:
            await engine.render_pool.warm()
        self.ready.set()
        log.info("worker %s started; mail goes to %s", engine.holder,
                 engine.transport.describe())
        helpers = []
        if self.outbox:
            helpers.append(asyncio.create_task(self._outbox_loop(stop), name="outbox"))
        try:
            await self._loop(stop)
        finally:
            for run, _task in self.runs.values():
                run.halt()
            await asyncio.gather(*(t for _r, t in self.runs.values()), return_exceptions=True)
            for task in helpers:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await engine.transport.close()
            if engine.render_pool is not None:
                await asyncio.to_thread(engine.render_pool.close)
            if self.heartbeat:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._release)
            if engine.own_db:
                engine.db.dispose()
            log.info("worker %s stopped", engine.holder)

    async def _loop(self, stop: asyncio.Event) -> None:
        next_schedule = next_beat = 0.0
        while not stop.is_set():
            now = time.monotonic()
            try:
                if self.heartbeat and now >= next_beat:
                    next_beat = now + HEARTBEAT_TTL / 3
                    await asyncio.to_thread(self._beat)
                if self.schedules and now >= next_schedule:
                    next_schedule = now + SCHEDULE_INTERVAL
                    started = await asyncio.to_thread(scheduling.run_due, self.engine.db)
                    for campaign in started:
                        log.info("scheduled campaign %s started", campaign.uid)
                await self._discover()
            except Exception:
                log.exception("worker loop failed; going on")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), DISCOVER_INTERVAL)

    async def _discover(self) -> None:
        for cid, (_run, task) in list(self.runs.items()):
            if task.done():
                del self.runs[cid]
                if not task.cancelled() and task.exception() is not None:
                    log.error("campaign %s stopped with an error", cid,
                              exc_info=task.exception())
        ids = await asyncio.to_thread(self._running)
        for cid in ids:
            if cid not in self.runs and (self.only is None or cid in self.only):
                run = CampaignRun(self.engine, cid)
                self.runs[cid] = (run, asyncio.create_task(run.run(), name=f"campaign {cid}"))

    def _running(self) -> list[int]:
        with self.engine.db.read() as conn:
            return db_campaigns.running_ids(conn)

    async def _outbox_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                handled = await transactional.send_due(self.engine)
            except Exception:
                log.exception("sending the outbox failed; going on")
                handled = 0
            if not handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), OUTBOX_INTERVAL)

    def _beat(self) -> None:
        with self.engine.db.write() as conn:
            now = utcnow()
            leases.take(conn, HEARTBEAT_PREFIX + self.engine.holder, self.engine.holder, now,
                        HEARTBEAT_TTL, dead=holder_is_dead)
            leases.purge(conn, now)

    def _release(self) -> None:
        with self.engine.db.write() as conn:
            leases.release(conn, HEARTBEAT_PREFIX + self.engine.holder, self.engine.holder)


def fix_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at 128 KiB for the whole process.

    glibc raises the threshold each time a block above it is freed, up to 32 MiB.
    The worker frees a block of a few megabytes with every slice of rendered
    messages it reads from a render process; after the first one, those blocks and
    the messages cut from them land in the heap, whose free holes then grow with
    every batch (measured: 186 MB peak for 200,000 readers, 142 MB with the
    threshold fixed). A threshold set explicitly is never moved.
    """
    if platform.libc_ver()[0] == "glibc":
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def new_loop() -> asyncio.AbstractEventLoop:
    """An event loop for the worker: uvloop's where installed (faster sockets).

    Database calls run in two threads, not the default handful: each thread gets a
    malloc arena of its own, and more arenas only fragment memory for no speed (the
    calls are short, and SQLite has one writer anyway).
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(DB_THREADS, thread_name_prefix="tidings-db"))
    return loop
