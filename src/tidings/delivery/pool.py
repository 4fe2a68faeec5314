"""Pools of reused SMTP connections, one pool per relay, fed from one queue.

Every connection of every relay takes jobs from the same queue, so a fast relay
takes more and a slow or throttled one fewer. A connection sends one recipient
per transaction; with PIPELINING it writes the next message's envelope right
behind the current message's content, so each message costs one round trip.

Relay health: a ``421`` closes the connection (the relay is going away); ``421``,
``451`` and ``454`` mean "slow down": the relay pauses for a back-off that doubles
each time (1 s up to a minute) and runs one connection fewer, and grows back one
connection per 100 messages accepted after the pause. A connection that drops
reconnects after the same back-off. Jobs caught in a dropped connection resolve
as temporary failures (451), which the ledger retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections import deque

from tidings.delivery import ratelimit
from tidings.delivery.ratelimit import Limiter, TokenBucket
from tidings.delivery.relays import Relay
from tidings.delivery.smtp import END, LOST, Connection, Reply, SmtpError, stuffed
from tidings.delivery.transport import UNSENT, Job, RelayHealth, Ticket

log = logging.getLogger("tidings.delivery")

THROTTLE_CODES = frozenset({421, 451, 454})
MAX_COOLDOWN = 60.0
RECOVER_AFTER = 100


class RelayState:
    """How hard a relay may be pushed right now."""

    def __init__(self, relay: Relay, global_buckets: list[TokenBucket]) -> None:
        self.relay = relay
        self.allowed = relay.pool
        self.cooldown_until = 0.0
        self.backoff = 0.0
        self.streak = 0
        self.connections = 0
        self.messages = 0
        self.error: str | None = None  # the last failure since the last accepted message
        self.error_at: float | None = None
        self.limiter = Limiter(
            ratelimit.buckets_for(relay.rate, relay.per_minute, relay.per_hour)
            + global_buckets)
        self.changed = asyncio.Event()

    def failed(self, error: str) -> None:
        self.error, self.error_at = error, time.time()

    def throttled(self) -> None:
        self.backoff = min(MAX_COOLDOWN, max(1.0, self.backoff * 2))
        self.cooldown_until = time.monotonic() + self.backoff * (1 + random.random() / 4)
        self.allowed = max(1, self.allowed - 1)
        self.streak = 0

    def accepted(self) -> None:
        self.error = None
        self.messages += 1
        self.streak += 1
        if self.streak >= RECOVER_AFTER:
            self.streak = 0
            self.backoff = self.backoff / 2 if self.backoff > 1 else 0.0
            if self.allowed < self.relay.pool:
                self.allowed += 1
                self.changed.set()

    async def cooldown(self) -> None:
        wait = self.cooldown_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def health(self) -> RelayHealth:
        return RelayHealth(self.relay.name, self.error, self.error_at,
                           max(0.0, self.cooldown_until - time.monotonic()))


class SmtpTransport:
    """Sends jobs through the configured relays."""

    def __init__(self, relays: list[Relay], *, helo: str, global_rate: float = 0.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        if not relays:
            raise ValueError("SmtpTransport needs at least one relay")
        self.helo = helo
        self.ssl_context = ssl_context
        global_buckets = ratelimit.buckets_for(global_rate, 0, 0)
        self.relays = [RelayState(r, global_buckets) for r in relays]
        self.queue: deque[Job] = deque()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    def describe(self) -> str:
        return ", ".join(s.relay.name for s in self.relays)

    def health(self) -> list[RelayHealth]:
        return [s.health() for s in self.relays]

    async def start(self) -> None:
        self._ready = asyncio.Event()
        for state in self.relays:
            for index in range(state.relay.pool):
                self._tasks.append(asyncio.create_task(
                    self._run(state, index), name=f"smtp {state.relay.name} #{index}"))

    def submit(self, ticket: Ticket) -> None:
        if ticket.urgent:
            self.queue.extendleft(reversed(ticket.jobs))
        else:
            self.queue.extend(ticket.jobs)
        self._ready.set()

    @property
    def connections_opened(self) -> int:
        return sum(s.connections for s in self.relays)

    async def close(self) -> None:
        self._closing = True
        for job in self.queue:
            job.resolve(Reply(0, "not sent"))
        self.queue.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await asyncio.sleep(0)  # let the closed sockets' callbacks run before the loop ends

    # -- taking jobs ---------------------------------------------------------------

    def _take_nowait(self) -> Job | None:
        while self.queue:
            job = self.queue.popleft()
            if job.reply is None:
                job.taken = True
                return job
        self._ready.clear()
        return None

    async def _take(self, state: RelayState, index: int) -> Job:
        """The next job, once this connection may send it (slot, cool-down, rate)."""
        while True:
            while index >= state.allowed:
                state.changed.clear()
                await state.changed.wait()
            if not self.queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            # Wait before taking, so that a paused campaign can still withdraw it.
            await state.cooldown()
            await state.limiter.acquire()
            job = self._take_nowait()
            if job is not None:
                return job

    def _take_ready(self, state: RelayState, index: int) -> Job | None:
        """A job to pipeline behind the current one, if one may go right now."""
        if index >= state.allowed or time.monotonic() < state.cooldown_until \
                or not self.queue or not state.limiter.ready():
            return None
        job = self._take_nowait()
        if job is not None:
            state.limiter.reserve()
        return job

    async def _take_or_idle(self, state: RelayState, index: int) -> Job | None:
        """The next job for this connection, or None after 30 s idle (then close it)."""
        if index >= state.allowed:
            return None
        try:
            async with asyncio.timeout(30):
                return await self._take(state, index)
        except TimeoutError:
            return None

    # -- one connection ------------------------------------------------------------

    async def _run(self, state: RelayState, index: int) -> None:
        while not self._closing:
            job = await self._take(state, index)
            try:
                conn = await Connection.open(state.relay, state.relay.helo or self.helo,
                                             ssl_context=self.ssl_context)
            except asyncio.CancelledError:
                job.resolve(UNSENT)
                raise
            except Exception as exc:  # any set-up failure: keep the job, back off
                self._give_back(job)
                log.warning("cannot use relay %s: %s", state.relay.name, exc)
                state.failed(f"cannot connect: {exc}" if isinstance(exc, OSError)
                             else str(exc))
                state.throttled()
                await state.cooldown()
                continue
            state.connections += 1
            try:
                await self._session(conn, state, index, job)
            finally:
                await conn.close()

    async def _session(self, conn: Connection, state: RelayState, index: int,
                       job: Job) -> None:
        """Send jobs on one open connection until it breaks, idles or must shrink."""
        in_flight: list[Job] = [job]
        try:
            if conn.pipelining:
                await self._pipelined(conn, state, index, in_flight)
            else:
                await self._lockstep(conn, state, index, in_flight)
            await conn.quit()
        except (SmtpError, OSError, TimeoutError) as exc:
            log.warning("connection to %s lost: %s", state.relay.name, exc)
            state.failed(f"connection lost: {exc}")
            for lost in in_flight:
                lost.resolve(LOST)
            state.throttled()
            await state.cooldown()

    async def _pipelined(self, conn: Connection, state: RelayState, index: int,
                         in_flight: list[Job]) -> None:
        current: Job | None = in_flight[0]
        assert current is not None
        conn.write(conn.envelope(current.sender, current.recipient, current.data))
        await conn.drain()
        while current is not None:
            replies = await conn.read_replies(3)
            refused = next((r for r in replies if not r.ok), None)
            if replies[2].code == 354:
                # Empty content ends a transaction whose envelope was refused (RFC 2920).
                payload = [current.data if current.ready else stuffed(current.data), END] \
                    if refused is None else [END]
            else:
                payload = [b"RSET\r\n"]
            follow = self._take_ready(state, index)
            if follow is not None:
                in_flight.append(follow)
                payload.append(conn.envelope(follow.sender, follow.recipient, follow.data))
            conn.write(*payload)
            await conn.drain()
            final = await conn.read_reply()
            outcome = refused or (final if replies[2].code == 354 else replies[2])
            self._record(state, current, outcome)
            in_flight.pop(0)
            if 421 in (outcome.code, final.code):
                if follow is not None:  # the relay closes before reading it: resend elsewhere
                    in_flight.clear()
                    self._give_back(follow)
                return
            current = follow
            if current is None:
                current = await self._take_or_idle(state, index)
                if current is not None:
                    in_flight.append(current)
                    conn.write(conn.envelope(current.sender, current.recipient,
                                             current.data))
                    await conn.drain()

    async def _lockstep(self, conn: Connection, state: RelayState, index: int,
                        in_flight: list[Job]) -> None:
        current: Job | None = in_flight[0]
        while current is not None:
            outcome = await conn.send(current.sender, current.recipient, current.data,
                                      ready=current.ready)
            self._record(state, current, outcome)
            in_flight.clear()
            if outcome.code == 421:
                return
            current = await self._take_or_idle(state, index)
            if current is not None:
                in_flight.append(current)

    def _give_back(self, job: Job) -> None:
        """Requeue a job none of which reached a relay; withdraw it if its ticket was."""
        if job.ticket.cancelled or self._closing:
            job.resolve(UNSENT)
            return
        job.taken = False
        self.queue.appendleft(job)
        self._ready.set()

    def _record(self, state: RelayState, job: Job, outcome: Reply) -> None:
        if outcome.ok:
            state.accepted()
        elif outcome.temporary:
            state.failed(str(outcome))
            if outcome.code in THROTTLE_CODES:
                state.throttled()
        job.resolve(outcome)
