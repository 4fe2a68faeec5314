"""Fixtures for the delivery engine: an audience, an engine aimed at a real SMTP sink."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.smtp_sink import SmtpSink
from tidings.bootstrap import Runtime
from tidings.db.database import Database
from tidings.delivery import relays, setup
from tidings.delivery.engine import Engine
from tidings.delivery.pool import SmtpTransport
from tidings.delivery.retry import RetryPolicy
from tidings.delivery.transport import Transport
from tidings.delivery.worker import Worker
from tidings.domain.campaigns import Campaign
from tidings.domain.lists import OptIn
from tidings.services import campaigns, lists, sending, subscribers

FAST_RETRY = RetryPolicy(base=0.2, factor=2.0, cap=5.0, max_attempts=4)


def make_engine(runtime: Runtime, transport: Transport, **kw: Any) -> Engine:
    """The real engine of ``runtime`` (mail built by tidings.mail), with fast retries."""
    engine = setup.engine_for(runtime, transport=transport, processes=0)
    engine.policy = engine.outbox_policy = FAST_RETRY
    for name, value in kw.items():
        setattr(engine, name, value)
    return engine


def smtp_transport(url: str, **kw: object) -> SmtpTransport:
    return SmtpTransport(relays.parse_all((url,)), helo="news.example.org", **kw)  # type: ignore[arg-type]


def audience(db: Database, count: int, *, prefix: str = "r") -> list[str]:
    lists.create(db, slug="news", name="News", optin=OptIn.SINGLE)
    emails = [f"{prefix}{i:04d}@example.com" for i in range(count)]
    for email in emails:
        subscribers.add(db, email=email, name=email.split("@")[0], lists=["news"],
                        preconfirmed=True)
    return emails


def started(db: Database, *, name: str = "Issue 1") -> Campaign:
    draft = campaigns.create(db, name=name, subject="Issue", body="Hello", lists=["news"])
    return sending.start(db, draft.uid)


class Running:
    """A worker in a thread, sending until stopped."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None
        ready = threading.Event()
        self._ready = ready
        self.thread.start()
        ready.wait(10)

    def _main(self) -> None:
        async def main() -> None:
            self.stop_event = asyncio.Event()
            self._ready.set()
            await self.worker.run(self.stop_event)
        try:
            self.loop.run_until_complete(main())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def stop(self) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)
        assert not self.thread.is_alive()
        if self.error:
            raise self.error


@pytest.fixture
def run_worker() -> Iterator[Callable[..., Running]]:
    started_workers: list[Running] = []

    def start(engine: Engine, **kw: object) -> Running:
        kw.setdefault("schedules", False)
        kw.setdefault("heartbeat", False)
        running = Running(Worker(engine, **kw))  # type: ignore[arg-type]
        started_workers.append(running)
        return running

    yield start
    for running in started_workers:
        if running.thread.is_alive():
            running.stop()


def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.02)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s

