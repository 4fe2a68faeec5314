"""Sending one campaign: claim a batch in the ledger, send it, record what happened.

The work is split so that each step is a plain function a distributed dispatcher
can call too: :func:`claim` (one short write transaction: due retries, then the
next keyset batch of the frozen audience, re-checked for eligibility, readers who
left meanwhile ledgered as skipped), :func:`deliver` (render and hand a batch to a
transport, wait for every reply) and :func:`record` (one short write transaction:
the ledger rows, the campaign's counters). :class:`CampaignRun` drives them in a
loop with two batches in flight, watching the campaign row so that a pause or a
cancel, from any process, stops it within a fraction of a second.

Guarantees (see docs/delivery.md): a reader is claimed before a message is handed
to a relay and marked sent only after the relay accepted it; a restart re-sends
rows left claimed (at most the in-flight batches and the unflushed outcomes), and
never skips a reader, because the keyset cursor is the ledger itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tidings.db import campaigns as db_campaigns
from tidings.db import deliveries as ledger
from tidings.db import leases
from tidings.db.deliveries import Outcome, Reader
from tidings.delivery.engine import Engine, holder_is_dead
from tidings.delivery.rendering import BatchRenderer
from tidings.delivery.smtp import Reply
from tidings.delivery.transport import UNSENT, Job, RelayHealth, Ticket
from tidings.domain.campaigns import Campaign, CampaignStatus
from tidings.domain.deliveries import DeliveryStatus
from tidings.domain.errors import TidingsError
from tidings.domain.timezones import utcnow
from tidings.services import sending

log = logging.getLogger("tidings.delivery")

WATCH_INTERVAL = 0.25     # how often the campaign row is read (pause, cancel)
FLUSH_INTERVAL = 0.25     # how often outcomes are written to the ledger
RENEW_INTERVAL = 5.0      # how often the campaign lease is renewed
IN_FLIGHT = 2             # batches being sent at once
SLICE = 100               # readers rendered together
SLICES_AHEAD = 3          # rendered slices a batch may have waiting for the relay


@dataclass(slots=True)
class Batch:
    """Readers claimed together for one campaign."""

    campaign_id: int
    readers: list[Reader]
    skipped: int = 0
    exhausted: bool = False   # the audience walk reached its end


def lease_name(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def take_lease(engine: Engine, campaign_id: int, *, starting: bool = False) -> bool:
    """Take (or renew) the campaign for this worker.

    When a run is ``starting``, no batch of the campaign is in flight in this worker
    and none can be in another (the lease was free), so rows still claimed were left
    without an answer by a worker that died or a batch that failed: they are retried.
    """
    with engine.db.write() as conn:
        taken, _previous = leases.take(conn, lease_name(campaign_id), engine.holder, utcnow(),
                                       engine.lease_ttl, dead=holder_is_dead)
        if taken and starting:
            recovered = ledger.recover(conn, campaign_id, utcnow())
            if recovered:
                log.warning("campaign %s: %d messages were in flight when its last run "
                            "stopped; sending them again", campaign_id, recovered)
    return taken


def claim(engine: Engine, campaign: Campaign, after_id: int, limit: int) -> tuple[Batch, int]:
    """Claim up to ``limit`` readers: due retries first, then the audience after ``after_id``.

    Returns the batch and the new keyset cursor.
    """
    now = utcnow()
    assert campaign.audience_max_id is not None and campaign.started_at is not None
    with engine.db.write() as conn:
        readers, skipped = ledger.claim_retries(conn, campaign.id, campaign.list_ids, now=now,
                                                limit=limit)
        batch = Batch(campaign.id, readers, skipped)
        room = limit - len(readers)
        if room <= 0:
            return batch, after_id
        fresh, last = ledger.claim_new(conn, campaign.id, campaign.list_ids,
                                       after_id=after_id, max_id=campaign.audience_max_id,
                                       limit=room, now=now)
        upto = campaign.audience_max_id if last is None else last
        batch.skipped += ledger.skip_opted_out(conn, campaign.id, campaign.list_ids,
                                               after_id=after_id, upto_id=upto,
                                               since=campaign.started_at, now=now)
        batch.readers.extend(fresh)
        batch.exhausted = last is None
    return batch, upto


async def deliver(engine: Engine, renderer: BatchRenderer, batch: Batch, *,
                  tickets: set[Ticket] | None = None,
                  on_outcome: Callable[[Outcome], None] | None = None,
                  stop: asyncio.Event | None = None) -> list[Outcome]:
    """Render and send a batch; return each reader's outcome in the ledger's terms.

    The batch is rendered in slices, a few ahead of the relay, so that memory holds
    a few hundred messages, never a whole batch. ``on_outcome`` hears of each
    outcome as soon as the relay answers (so a crash mid-batch repeats as little as
    possible). Once ``stop`` is set, slices not yet handed over come back unsent.
    """
    attempts = {r.id: r.attempts for r in batch.readers}
    outcomes: list[Outcome] = []

    def tell(found: Outcome) -> None:
        if on_outcome is not None:
            on_outcome(found)
        else:
            outcomes.append(found)

    def heard(job: Job) -> None:
        tell(outcome(engine, job.key, attempts[job.key], job.reply or UNSENT, utcnow()))

    waiting: deque[Ticket] = deque()
    slices = [batch.readers[i:i + SLICE] for i in range(0, len(batch.readers), SLICE)]
    try:
        for number, part in enumerate(slices):
            if stop is not None and stop.is_set():
                for rest in slices[number:]:
                    for reader in rest:
                        tell(Outcome(reader.id, DeliveryStatus.RETRY, None, None,
                                     attempted=False, next_attempt_at=utcnow()))
                break
            while len(waiting) >= SLICES_AHEAD:
                sent = waiting.popleft()
                await sent.wait()
                if tickets is not None:
                    tickets.discard(sent)
            ticket = Ticket(on_reply=heard)
            for reader, made in zip(part, await renderer.render(part), strict=True):
                if isinstance(made, str):
                    tell(Outcome(reader.id, DeliveryStatus.FAILED, None, made, attempted=False))
                else:
                    ticket.add(made[0], made[1], made[2], reader.id, ready=True)
            if tickets is not None:
                tickets.add(ticket)
            engine.transport.submit(ticket)
            waiting.append(ticket)
        for ticket in waiting:
            await ticket.wait()
    finally:
        if tickets is not None:
            for ticket in waiting:
                tickets.discard(ticket)
    return outcomes


def outcome(engine: Engine, subscriber_id: int, attempts_before: int, reply: Reply,
            now: datetime) -> Outcome:
    """Classify a relay's reply into the ledger's terms, with the retry schedule."""
    if reply.ok:
        return Outcome(subscriber_id, DeliveryStatus.SENT, reply.code, reply.text)
    if reply.code == 0:  # withdrawn before any byte went out: claim it again later
        return Outcome(subscriber_id, DeliveryStatus.RETRY, None, None, attempted=False,
                       next_attempt_at=now)
    attempts = attempts_before + 1
    if reply.temporary and not engine.policy.gives_up(attempts):
        delay = engine.policy.delay(attempts)
        return Outcome(subscriber_id, DeliveryStatus.RETRY, reply.code, reply.text,
                       next_attempt_at=now + timedelta(seconds=delay))
    return Outcome(subscriber_id, DeliveryStatus.FAILED, reply.code, reply.text)


def refusals(outcomes: Sequence[Outcome]) -> list[tuple[int, int, str]]:
    """The permanent (5xx) answers among ``outcomes``: (subscriber id, code, answer)."""
    return [(o.subscriber_id, o.code, o.response or "") for o in outcomes
            if o.status is DeliveryStatus.FAILED and o.code is not None and o.code >= 500]


def record(engine: Engine, campaign_id: int, outcomes: Sequence[Outcome],
           delivery: dict[str, object]) -> None:
    """Write outcomes, what permanent refusals mean (bounces) and progress in one transaction."""
    now = utcnow()
    refused = refusals(outcomes)
    sent = sum(1 for o in outcomes if o.status is DeliveryStatus.SENT)
    failed = sum(1 for o in outcomes if o.status is DeliveryStatus.FAILED)
    with engine.db.write() as conn:
        ledger.record(conn, campaign_id, outcomes, now)
        if refused and engine.refusals is not None:
            engine.refusals(conn, campaign_id, refused, now)
        ledger.progress(conn, campaign_id, sent=sent, failed=failed, delivery=delivery,
                        now=now)


@dataclass
class _Meter:
    """Counts for the progress shown in the UI: rate over the last seconds, ETA."""

    total: int
    sent: int
    failed: int
    skipped: int
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=20))
    error: str | None = None

    def rate(self) -> float:
        now = time.monotonic()
        self.samples.append((now, self.sent + self.failed))
        while len(self.samples) > 2 and now - self.samples[0][0] > 10:
            self.samples.popleft()
        (t0, n0), (t1, n1) = self.samples[0], self.samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def snapshot(self, holder: str, state: str,
                 relays: Sequence[RelayHealth] = ()) -> dict[str, object]:
        remaining = max(0, self.total - self.sent - self.failed - self.skipped)
        rate = self.rate()
        found: dict[str, object] = {
            "skipped": self.skipped, "remaining": remaining, "rate": round(rate, 1),
            "eta": round(remaining / rate) if rate > 0 else None, "worker": holder,
            "state": state, "relays": [r.as_dict() for r in relays if r.error]}
        if state == "sending" and relays and all(r.backing_off for r in relays):
            found["state"] = "backing off"
        if self.error:
            found.update(state="error", error=self.error)
        return found


class CampaignRun:
    """Sends one campaign until it is finished, paused, cancelled or told to stop."""

    def __init__(self, engine: Engine, campaign_id: int) -> None:
        self.engine = engine
        self.campaign_id = campaign_id
        self.stop = asyncio.Event()
        self.finished = False
        self._tickets: set[Ticket] = set()
        self._pending: list[Outcome] = []
        self._skipped_pending = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._meter: _Meter | None = None
        self._answered = 0     # messages sent or failed in this run (progress)
        self._idle = False     # waiting for retries with nothing handed to a relay
        self._flushing = asyncio.Lock()

    async def run(self) -> None:
        engine = self.engine
        if not await asyncio.to_thread(take_lease, engine, self.campaign_id, starting=True):
            return
        watcher = asyncio.create_task(self._watch(), name=f"watch campaign {self.campaign_id}")
        flusher = asyncio.create_task(self._flush_loop(), name="ledger flush")
        try:
            await self._send()
        finally:
            self.stop.set()
            for ticket in list(self._tickets):
                ticket.cancel()
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await flusher  # ends after the write it may be doing: never cut one short
            await self._flush("finished" if self.finished else "stopped")
            await asyncio.to_thread(self._release)

    def _release(self) -> None:
        with self.engine.db.write() as conn:
            leases.release(conn, lease_name(self.campaign_id), self.engine.holder)

    def _load(self) -> tuple[Campaign | None, int, dict[DeliveryStatus, int]]:
        with self.engine.db.read() as conn:
            campaign = db_campaigns.get(conn, self.campaign_id)
            return campaign, ledger.cursor(conn, self.campaign_id), \
                ledger.counts(conn, self.campaign_id)

    async def _send(self) -> None:
        engine = self.engine
        campaign, cursor, counts = await asyncio.to_thread(self._load)
        if campaign is None or campaign.status is not CampaignStatus.RUNNING:
            return
        self._meter = _Meter(campaign.total, campaign.sent, campaign.failed,
                             counts[DeliveryStatus.SKIPPED])
        try:
            compiled = await asyncio.to_thread(engine.compose, engine.db, campaign)
        except TidingsError as exc:
            # A template that cannot be compiled will not compile on retry either:
            # pause, and say why where the UI and `campaigns status` look.
            log.error("campaign %s cannot be built, pausing it: %s", campaign.uid, exc.message)
            await self._pause(exc.message)
            return
        renderer = BatchRenderer(compiled, f"{campaign.id}:{campaign.updated_at}",
                                 engine.render_pool)
        exhausted = False
        log.info("campaign %s: sending (%d readers, %s)", campaign.uid, campaign.total,
                 engine.transport.describe())
        while not self.stop.is_set():
            await self._slots.acquire()
            if self.stop.is_set():
                self._slots.release()
                break
            batch, cursor = await asyncio.to_thread(
                claim, engine, campaign, cursor, engine.chunk_size())
            exhausted = exhausted or batch.exhausted
            self._skipped_pending += batch.skipped
            if batch.readers:
                task = asyncio.create_task(self._deliver(renderer, batch))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                continue
            self._slots.release()
            if exhausted and await self._idle_or_done():
                return

    async def _deliver(self, renderer: BatchRenderer, batch: Batch) -> None:
        try:
            await deliver(self.engine, renderer, batch, tickets=self._tickets,
                          on_outcome=self._heard, stop=self.stop)
        except Exception:
            log.exception("campaign %s: a batch failed", self.campaign_id)
            self.stop.set()
        finally:
            self._slots.release()

    async def _pause(self, error: str) -> None:
        """Pause the campaign, with ``error`` in its progress for the operator to read."""
        assert self._meter is not None
        self._meter.error = error  # every write of the progress from now on carries it
        await self._flush("error")
        with contextlib.suppress(TidingsError):
            await asyncio.to_thread(sending.pause, self.engine.db, str(self.campaign_id),
                                    actor="worker")

    def _heard(self, found: Outcome) -> None:
        self._pending.append(found)  # the list is swapped by each flush: no bound append
        if found.status is not DeliveryStatus.RETRY:
            self._answered += 1

    def _stalled(self, seconds: float) -> str:
        """Why the run pauses itself after ``seconds`` without progress."""
        troubles = [f"{h.name}: {h.error}" for h in self.engine.transport.health() if h.error]
        return (f"Paused after {seconds:.0f} s without any message answered while messages "
                "were waiting for a relay (TIDINGS_STALL_TIMEOUT); last relay errors: "
                + ("; ".join(troubles) or "none (the relays did not answer)")
                + ". Resume the campaign once the relay works again.")

    async def _idle_or_done(self) -> bool:
        """Nothing to claim now: finish if nothing is left, else wait for retries."""
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._flush("sending")

        def check() -> tuple[int, datetime | None]:
            with self.engine.db.read() as conn:
                return (ledger.open_rows(conn, self.campaign_id),
                        ledger.next_retry_at(conn, self.campaign_id))

        open_rows, next_at = await asyncio.to_thread(check)
        self._idle = True
        if open_rows == 0:
            self.finished = await asyncio.to_thread(sending.finish, self.engine.db,
                                                    self.campaign_id)
            if self.finished:
                log.info("campaign %s: finished", self.campaign_id)
            return True
        wait = 0.5 if next_at is None else (next_at - utcnow()).total_seconds()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=min(max(wait, 0.01), 0.5))
        self._idle = False
        return False

    async def _watch(self) -> None:
        """Stop when the campaign is no longer running or the lease was lost; pause it
        when messages wait for a relay and none is answered for ``stall_timeout``."""
        renewed = moved = time.monotonic()
        answered = self._answered
        rate = self.engine.max_rate  # a slow rate limit is not a stall: allow three gaps
        stall = max(self.engine.stall_timeout, 3 / rate if rate else 0.0)
        while not self.stop.is_set():
            await asyncio.sleep(WATCH_INTERVAL)
            now = time.monotonic()
            if self._answered != answered or self._idle:
                answered, moved = self._answered, now
            elif now - moved >= stall:
                reason = self._stalled(now - moved)
                log.error("campaign %s: %s", self.campaign_id, reason)
                await self._pause(reason)
                self.halt()
                return
            status = await asyncio.to_thread(self._status)
            if status is not CampaignStatus.RUNNING:
                log.info("campaign %s is %s: stopping", self.campaign_id, status)
                self.halt()
                return
            if time.monotonic() - renewed >= RENEW_INTERVAL:
                renewed = time.monotonic()
                if not await asyncio.to_thread(take_lease, self.engine, self.campaign_id):
                    log.error("campaign %s: another worker took it over", self.campaign_id)
                    self.halt()
                    return

    def halt(self) -> None:
        """Stop: withdraw what no relay has started on; the rest finishes and is recorded."""
        self.stop.set()
        for ticket in list(self._tickets):
            ticket.cancel()

    def _status(self) -> CampaignStatus | None:
        with self.engine.db.read() as conn:
            return db_campaigns.status_of(conn, self.campaign_id)

    async def _flush_loop(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), FLUSH_INTERVAL)
            if not self.stop.is_set():
                await self._flush("sending")

    async def _flush(self, state: str) -> None:
        """Write what was heard since the last flush, and the progress (one at a time)."""
        async with self._flushing:
            await self._write(state)

    async def _write(self, state: str) -> None:
        if self._meter is None:
            return
        outcomes, self._pending = self._pending, []
        skipped, self._skipped_pending = self._skipped_pending, 0
        sent = sum(1 for o in outcomes if o.status is DeliveryStatus.SENT)
        failed = sum(1 for o in outcomes if o.status is DeliveryStatus.FAILED)
        meter = self._meter
        meter.sent, meter.failed, meter.skipped = (meter.sent + sent, meter.failed + failed,
                                                   meter.skipped + skipped)
        try:
            await asyncio.to_thread(record, self.engine, self.campaign_id, outcomes,
                                    meter.snapshot(self.engine.holder, state,
                                                   self.engine.transport.health()))
        except Exception:
            meter.sent, meter.failed, meter.skipped = (meter.sent - sent, meter.failed - failed,
                                                       meter.skipped - skipped)
            self._pending = outcomes + self._pending
            self._skipped_pending += skipped
            log.exception("campaign %s: cannot write the ledger; will try again",
                          self.campaign_id)
