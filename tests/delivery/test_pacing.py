"""Token buckets under a fake clock, and the retry schedule."""

from __future__ import annotations

import asyncio
import random

import pytest

from tidings.delivery.ratelimit import Limiter, TokenBucket, buckets_for
from tidings.delivery.retry import RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def send(limiter: Limiter, count: int) -> None:
    async def go() -> None:
        for _ in range(count):
            await limiter.acquire()
    asyncio.run(go())


def test_fourteen_per_second_spaces_140_sends_over_at_least_139_fourteenths() -> None:
    clock = FakeClock()
    limiter = Limiter(buckets_for(14, 0, 0, clock=clock), clock=clock, sleep=clock.sleep)
    start = clock.now
    send(limiter, 140)
    assert clock.now - start == pytest.approx(139 / 14)
    assert clock.now - start >= 9.9


def test_the_strictest_bucket_wins_and_every_one_is_respected() -> None:
    clock = FakeClock()
    limiter = Limiter(buckets_for(100, 120, 0, clock=clock), clock=clock, sleep=clock.sleep)
    start = clock.now
    send(limiter, 241)
    assert clock.now - start == pytest.approx(120.0)  # 120 a minute: 0.5 s apart


def test_a_shared_bucket_gives_concurrent_senders_distinct_slots() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    delays = sorted(bucket.reserve() for _ in range(5))
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert not bucket.ready(clock.now)
    clock.now += 0.5
    assert bucket.ready(clock.now) and bucket.reserve() == pytest.approx(0.0)


def test_idle_time_does_not_bank_a_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, clock=clock)
    clock.now += 3600
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.5, 1.0])


def test_no_limits_never_waits() -> None:
    limiter = Limiter([])
    assert limiter.reserve() == 0.0 and limiter.ready()


@pytest.mark.parametrize("seed", range(20))
def test_retry_delays_never_decrease_and_stay_capped(seed: int) -> None:
    policy = RetryPolicy(base=30, factor=2, cap=1800, max_attempts=10)
    rng = random.Random(seed)
    delays = [policy.delay(n, rng) for n in range(1, 12)]
    assert delays == sorted(delays)
    assert delays[0] >= 30 and max(delays) <= 1800
    assert not policy.gives_up(9) and policy.gives_up(10)


def test_a_jitter_larger_than_the_growth_is_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(factor=1.1)
