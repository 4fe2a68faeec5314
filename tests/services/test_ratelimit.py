"""The in-process sliding-window limiter."""

from __future__ import annotations

import pytest

from tidings.services.ratelimit import SlidingWindow, ip_key, retry_after


class Clock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_limit_within_one_window() -> None:
    clock = Clock()
    window = SlidingWindow(3600, clock=clock)
    assert [window.hit("a", 5) for _ in range(5)] == [0.0] * 5
    wait = window.hit("a", 5)
    assert wait >= 1
    assert window.hit("b", 5) == 0.0  # keys are independent


def test_the_window_slides() -> None:
    clock = Clock(3600 * 1000)  # the start of a window
    window = SlidingWindow(3600, clock=clock)
    for _ in range(5):
        assert window.hit("a", 5) == 0.0
    clock.now += 3600 * 0.5  # still the same window: full
    wait = window.hit("a", 5)
    assert wait > 0
    clock.now += wait + 1  # the returned wait is enough
    assert window.hit("a", 5) == 0.0
    clock.now += 3600 * 2.5  # both windows gone
    assert [window.hit("a", 5) for _ in range(5)] == [0.0] * 5


def test_refused_hits_do_not_count() -> None:
    clock = Clock(3600 * 1000)
    window = SlidingWindow(60, clock=clock)
    assert window.hit("a", 1) == 0.0
    for _ in range(10):
        assert window.hit("a", 1) > 0
    clock.now += 120
    assert window.hit("a", 1) == 0.0


def test_zero_means_no_limit_and_old_keys_are_dropped() -> None:
    clock = Clock()
    window = SlidingWindow(60, clock=clock)
    assert all(window.hit("a", 0) == 0.0 for _ in range(1000))
    for i in range(100):
        window.hit(f"k{i}", 3)
    assert len(window) == 100
    clock.now += 200
    window.hit("x", 3)
    assert len(window) == 1


@pytest.mark.parametrize(("address", "key"), [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("testclient", "testclient"),
])
def test_ip_keys(address: str, key: str) -> None:
    assert ip_key(address) == key


def test_retry_after_is_a_whole_positive_number() -> None:
    assert retry_after(0.2) == 1 and retry_after(61.1) == 62
