"""When to try a temporarily refused message again.

Exponential back-off with bounded jitter: attempt ``n`` (1 for the first retry)
waits ``base * factor**(n-1)`` times a random factor in [1, 1.25), capped. Because
the jitter never exceeds the growth factor, the delays of one message never
decrease. After ``max_attempts`` attempts the message is given up as failed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 60.0
    factor: float = 2.0
    cap: float = 3600.0
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1.25 or self.cap < self.base \
                or self.max_attempts < 1:
            raise ValueError("invalid retry policy")

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1, 2, ...)."""
        jitter = 1 + (rng or random).random() / 4
        return min(self.cap, self.base * self.factor ** max(0, attempts - 1) * jitter)

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
