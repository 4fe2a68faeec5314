"""What the engine hands to a transport, and what it gets back.

A :class:`Ticket` is a group of :class:`Job` (one message to one recipient each)
submitted together; the transport resolves every job with a :class:`Reply` and
the ticket's :meth:`Ticket.wait` returns when all are resolved. Resolving by
ticket, not by future per message, keeps the per-message cost of the hot path
to a few attribute writes.

Outcomes: a 2xx reply is sent; 4xx (and a lost connection, reported as 451) is
temporary; 5xx is permanent; :data:`UNSENT` means the job was withdrawn (pause,
cancel, shutdown) before any byte of it reached a relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tidings.delivery.smtp import Reply

UNSENT = Reply(0, "not sent")


@dataclass(frozen=True, slots=True)
class RelayHealth:
    """How a relay is doing, for the campaign status.

    ``error`` is its last failure (a refused or dropped connection, a 4xx answer)
    since it last accepted a message, ``error_at`` when (Unix time), ``backing_off``
    the seconds until it is tried again (0: it is not backing off).
    """

    name: str
    error: str | None
    error_at: float | None
    backing_off: float

    def as_dict(self) -> dict[str, object]:
        return {"relay": self.name, "error": self.error, "error_at": self.error_at,
                "backing_off": round(self.backing_off, 1)}


@dataclass(slots=True, eq=False)
class Job:
    """One message for one recipient. ``key`` identifies it for the caller.

    ``ready`` says that ``data`` is SMTP ``DATA`` content as it is: CRLF line ends,
    the last line ended, no line starting with ``.`` (what :mod:`tidings.mail`
    builds); otherwise the SMTP client dot-stuffs a copy.
    """

    sender: str
    recipient: str
    data: bytes
    key: int
    ticket: Ticket
    ready: bool = False
    reply: Reply | None = None
    taken: bool = False

    def resolve(self, reply: Reply) -> None:
        if self.reply is None:
            self.reply = reply
            self.data = b""  # answered: free the message now, not when the ticket goes
            self.ticket._resolved(self)


@dataclass(eq=False)
class Ticket:
    """A group of jobs; ``wait()`` returns when every one has a reply."""

    jobs: list[Job] = field(default_factory=list)
    cancelled: bool = False
    on_reply: Callable[[Job], None] | None = None  # called as each job resolves
    urgent: bool = False  # goes before queued campaign mail (transactional messages)
    _pending: int = 0
    _done: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, sender: str, recipient: str, data: bytes, key: int, *,
            ready: bool = False) -> Job:
        job = Job(sender, recipient, data, key, self, ready)
        self.jobs.append(job)
        self._pending += 1
        self._done.clear()
        return job

    def _resolved(self, job: Job) -> None:
        if self.on_reply is not None:
            self.on_reply(job)
        self._pending -= 1
        if self._pending <= 0:
            self._done.set()

    async def wait(self) -> list[Job]:
        if self._pending > 0:
            await self._done.wait()
        return self.jobs

    def cancel(self) -> None:
        """Withdraw every job no connection has started on (they resolve as UNSENT)."""
        self.cancelled = True
        for job in self.jobs:
            if not job.taken:
                job.resolve(UNSENT)


class Transport(Protocol):
    """Delivers jobs. ``submit`` never blocks; replies arrive on the jobs' tickets."""

    async def start(self) -> None: ...

    def submit(self, ticket: Ticket) -> None: ...

    async def close(self) -> None: ...

    def describe(self) -> str: ...

    def health(self) -> list[RelayHealth]: ...
