"""The inline dispatcher: the worker in a thread of its own, with its own event loop.

``tidings serve`` starts it with the web app and stops it on shutdown (FastAPI
lifespan), so one process serves pages and sends mail; the web app never waits
for SMTP. ``tidings worker`` runs the same worker in the foreground instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from tidings.delivery.worker import Worker, new_loop

log = logging.getLogger("tidings.delivery")


class InlineWorker:
    """Start with :meth:`start`, stop with :meth:`stop` (waits for in-flight mail)."""

    def __init__(self, make_worker: Callable[[], Worker]) -> None:
        self._make_worker = make_worker
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="tidings-worker", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def _main(self) -> None:
        loop = new_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._run())
        except Exception:
            log.exception("the delivery worker crashed")
        finally:
            loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        worker = self._make_worker()
        self._ready.set()
        await worker.run(self._stop)

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
