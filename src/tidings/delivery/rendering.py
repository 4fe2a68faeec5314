"""Rendering messages for a batch, in this process or in a pool of processes.

Rendering (and above all DKIM signing, ~0.25 ms per RSA signature) is the CPU-heavy
part of sending. With ``render_processes`` > 0 the engine renders in that many
worker processes while the main process keeps the SMTP connections busy: each task
is a slice of readers plus the pickled compiled campaign, which a worker process
unpickles (compiles) once and keeps for the next slices of the same run.

Either way the result is a list with, per reader, the message (sender, recipient,
bytes) or the reason it could not be built.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from tidings.db.deliveries import Reader
from tidings.delivery.engine import Renderer

Rendered = tuple[str, str, bytes] | str
"""(envelope sender, recipient, message) or why it could not be built."""

log = logging.getLogger("tidings.delivery")

_cache: dict[str, Renderer] = {}


def render_all(renderer: Renderer, readers: Sequence[Reader]) -> list[Rendered]:
    out: list[Rendered] = []
    for reader in readers:
        try:
            message = renderer.render(reader)
        except Exception as exc:  # a template error for this reader's data, ...
            out.append(f"Cannot build the message: {exc}"[:512])
            continue
        out.append((message.envelope_from, message.recipient, message.data))
    return out


def _render_in_worker(key: str, blob: bytes, readers: list[Reader]) -> list[Rendered]:
    renderer = _cache.get(key)
    if renderer is None:
        _cache.clear()
        renderer = pickle.loads(blob)  # noqa: S301 (our own campaign, from our parent)
        _cache[key] = renderer
    return render_all(renderer, readers)


def _warm() -> None:
    import tidings.delivery.compose  # noqa: F401 (what unpickling a campaign needs)


class RenderPool:
    """Worker processes that render; start with :meth:`warm` or on first use, close
    with :meth:`close`."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: the worker may run in a thread of a threaded web server.
            self._executor = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn"))
        return self._executor

    async def warm(self) -> None:
        """Start every process and import what rendering needs, before the first campaign.

        A process costs about a second of CPU to start; a worker that waits for
        campaigns pays it once, not while its first campaign is sending.
        """
        loop = asyncio.get_running_loop()
        pool = self._pool()
        try:
            await asyncio.gather(*(loop.run_in_executor(pool, _warm)
                                   for _ in range(self.processes)))
        except BrokenProcessPool:
            log.error("the render processes did not start; they are tried again when needed")
            self._executor = None
            pool.shutdown(wait=False, cancel_futures=True)

    async def render(self, key: str, blob: bytes, readers: list[Reader]) -> list[Rendered]:
        """Render in a worker process; a dead process pool is replaced next time."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool(), _render_in_worker, key, blob,
                                              readers)
        except BrokenProcessPool:
            broken, self._executor = self._executor, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


class BatchRenderer:
    """Renders slices of readers of one campaign run, in processes when it can."""

    def __init__(self, renderer: Renderer, key: str, pool: RenderPool | None) -> None:
        self.renderer = renderer
        self.key = key
        self.pool = pool
        self.blob: bytes | None = None
        if pool is not None:
            try:
                self.blob = pickle.dumps(renderer, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError):
                self.blob = None  # not picklable: render here

    async def render(self, readers: list[Reader]) -> list[Rendered]:
        if self.pool is not None and self.blob is not None:
            try:
                return await self.pool.render(self.key, self.blob, readers)
            except BrokenProcessPool:
                log.error("a render process died; rendering these messages here")
        return render_all(self.renderer, readers)
