"""An in-process sliding-window rate limiter (signups per IP address, per email address).

The window is approximated from two fixed windows, the current and the previous one,
weighting the previous count by how much of it still overlaps the sliding window
(the scheme of Cloudflare's and nginx's limiters). Memory is two counters per key seen
in the last two windows; older keys are dropped as the windows roll.

The counts live in the memory of one process: with several server processes each
keeps its own, so the effective limit is the limit times the number of processes.
``tidings serve`` runs one process. Put a limit in the reverse proxy as well when you
run more.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable


class SlidingWindow:
    """At most ``limit`` hits per key within any ``window`` seconds (approximately)."""

    def __init__(self, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if window <= 0:
            raise ValueError("the window must be positive")
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._index = self._window_index(clock())
        self._current: dict[str, int] = {}
        self._previous: dict[str, int] = {}

    def _window_index(self, now: float) -> int:
        return int(now // self.window)

    def _roll(self, now: float) -> None:
        index = self._window_index(now)
        if index == self._index:
            return
        self._previous = self._current if index == self._index + 1 else {}
        self._current = {}
        self._index = index

    def hit(self, key: str, limit: int) -> float:
        """Count one hit for ``key``; return 0 when allowed, else seconds until it would be.

        A refused hit is not counted. ``limit`` 0 or less means no limit.
        """
        if limit <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._roll(now)
            elapsed = now / self.window - self._index  # fraction of the current window
            current = self._current.get(key, 0)
            previous = self._previous.get(key, 0)
            if previous * (1.0 - elapsed) + current + 1 <= limit:
                self._current[key] = current + 1
                return 0.0
            return self._wait(elapsed, current, previous, limit)

    def _wait(self, elapsed: float, current: int, previous: int, limit: int) -> float:
        if current + 1 <= limit:
            # Room in this window once enough of the previous one has slid out of it.
            needed = 1.0 - (limit - current - 1) / previous
            return max(1.0, (needed - elapsed) * self.window)
        # This window is full: in the next one its count weighs as "previous".
        needed = max(0.0, 1.0 - (limit - 1) / current)
        return max(1.0, (1.0 - elapsed + needed) * self.window)

    def __len__(self) -> int:
        with self._lock:
            return len(self._current) + len(self._previous)


def ip_key(address: str) -> str:
    """The bucket of an IP address: itself for IPv4, its /64 network for IPv6.

    One IPv6 host commonly holds a whole /64, so counting single addresses would let it
    bypass any limit.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def retry_after(seconds: float) -> int:
    """A whole number of seconds for a ``Retry-After`` header."""
    return max(1, math.ceil(seconds))
