"""Token buckets: at most so many messages per second, minute or hour.

Each bucket is kept as a "theoretical arrival time" (the generic cell rate
algorithm, equivalent to a token bucket): a message may leave at
``tat - burst``; taking a token moves ``tat`` one interval on. Reserving never
fails, it says how long to wait, so several connections can share a bucket
without locks: each reserves its own slot in turn. A message waits for the
latest slot among all the buckets that apply (its relay's and the global one),
which respects every one of them.

Buckets hold a single token (no bursts): a limit of 14 per second spaces
messages 1/14 s apart, so 140 messages take at least 139/14 s, and no window of
a minute or an hour ever sees more than its limit plus one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """``rate`` tokens per ``per`` seconds."""

    def __init__(self, rate: float, per: float = 1.0, *, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or per <= 0:
            raise ValueError("a bucket needs a positive rate")
        self.interval = per / rate
        self._clock = clock
        self._tat = clock()

    def reserve(self, now: float | None = None) -> float:
        """Take one token; return the seconds to wait before using it (0: at once)."""
        now = self._clock() if now is None else now
        tat = max(self._tat, now)
        self._tat = tat + self.interval
        return tat - now

    def ready(self, now: float) -> bool:
        """Whether a token could be taken at ``now`` without waiting."""
        return self._tat <= now + 1e-9  # float sums of intervals drift


class Limiter:
    """The buckets that apply to one send; empty means no limit."""

    def __init__(self, buckets: Sequence[TokenBucket], *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.buckets = list(buckets)
        self._clock = clock
        self._sleep = sleep

    def reserve(self) -> float:
        if not self.buckets:
            return 0.0
        now = self._clock()
        return max(bucket.reserve(now) for bucket in self.buckets)

    def ready(self) -> bool:
        """Whether :meth:`reserve` would not make the caller wait (takes nothing)."""
        now = self._clock()
        return all(bucket.ready(now) for bucket in self.buckets)

    async def acquire(self) -> None:
        """Wait until every bucket lets one message go."""
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)


def buckets_for(rate: float, per_minute: float, per_hour: float, *,
                clock: Clock = time.monotonic) -> list[TokenBucket]:
    """The buckets of a relay's (or the global) limits; zero means no limit."""
    found = []
    for amount, per in ((rate, 1.0), (per_minute, 60.0), (per_hour, 3600.0)):
        if amount > 0:
            found.append(TokenBucket(amount, per, clock=clock))
    return found
