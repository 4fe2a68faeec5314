"""The capture outbox: with no relay configured, every message becomes an ``.eml`` file.

Files live in ``TIDINGS_OUTBOX_DIR`` (``data/outbox``), named so that they sort by
the time they were written (``20261129T095548.123456Z-<pid>-<n>.eml``). Each is the
message as a relay would have received it, with ``Return-Path`` (the envelope
sender) and ``Delivered-To`` (the envelope recipient) in front, as a mailbox
delivery adds them. A file appears whole or not at all: it is written under a
temporary name and renamed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from datetime import UTC, datetime
from pathlib import Path

from tidings.delivery.smtp import Reply
from tidings.delivery.transport import Job, RelayHealth, Ticket

ACCEPTED = Reply(250, "2.0.0 Captured")


class CaptureTransport:
    """Writes each job to a file; never refuses a message unless the disk does."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)
        self._queue: asyncio.Queue[Ticket] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def health(self) -> list[RelayHealth]:
        return []  # a folder never refuses

    def describe(self) -> str:
        return f"capture outbox {self.directory}"

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="capture outbox")

    def submit(self, ticket: Ticket) -> None:
        self._queue.put_nowait(ticket)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            self._queue.get_nowait().cancel()

    async def _run(self) -> None:
        while True:
            ticket = await self._queue.get()
            jobs = [job for job in ticket.jobs if job.reply is None]
            for job in jobs:
                job.taken = True
            replies = await asyncio.to_thread(self._write_all, jobs)
            for job, reply in zip(jobs, replies, strict=True):
                job.resolve(reply)

    def _write_all(self, jobs: list[Job]) -> list[Reply]:
        return [self.write(job.sender, job.recipient, job.data) for job in jobs]

    def write(self, sender: str, recipient: str, data: bytes) -> Reply:
        """Write one message; a full or read-only disk is a temporary failure."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{os.getpid()}-{next(self._counter):08d}.eml"
        temporary = self.directory / f".{name}.tmp"
        header = f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()
        try:
            with temporary.open("wb") as fh:
                fh.write(header)
                fh.write(data)
            temporary.replace(self.directory / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            return Reply(452, f"4.3.1 Cannot write to the capture outbox: {exc.strerror}")
        return ACCEPTED
