"""Honeypot, fill time and ALTCHA checks of the signup forms."""

from __future__ import annotations

import time

import altcha
import pytest

from tidings.mail.tokens import Purpose, TokenSigner
from tidings.services.signup_guard import SignupGuard, Verdict

SECRET = "guard-test-secret-0123456789"


class Clock:
    now = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(clock: Clock) -> SignupGuard:
    return SignupGuard(TokenSigner(SECRET), SECRET, clock=clock)


def test_fill_time(guard: SignupGuard, clock: Clock) -> None:
    token = guard.form_token()
    assert guard.judge(form_token=token, honeypot="", min_fill_seconds=2) is Verdict.QUIET
    clock.now += 3
    assert guard.judge(form_token=token, honeypot="", min_fill_seconds=2) is Verdict.ACCEPT
    assert guard.judge(form_token=token, honeypot="x", min_fill_seconds=2) is Verdict.QUIET
    clock.now += 25 * 3600
    assert guard.judge(form_token=token, honeypot="", min_fill_seconds=2) is Verdict.STALE


def test_render_times_must_be_genuine(guard: SignupGuard, clock: Clock) -> None:
    other = TokenSigner("another-secret-0123456789").sign(Purpose.SIGNUP_FORM, int(clock.now))
    wrong_purpose = TokenSigner(SECRET).sign(Purpose.PREFERENCES, int(clock.now) - 10)
    for token in (None, "", "garbage", other, wrong_purpose):
        assert guard.judge(form_token=token, honeypot="", min_fill_seconds=0) is Verdict.STALE


def test_altcha_solution_is_accepted_once(guard: SignupGuard, clock: Clock) -> None:
    challenge = altcha.Challenge.from_dict(guard.altcha_challenge())
    solution = altcha.solve_challenge(challenge)
    assert solution is not None
    payload = altcha.Payload(challenge, solution).to_base64()
    assert guard.altcha_ok(payload) is True
    assert guard.altcha_ok(payload) is False  # a replay


def test_expired_altcha_challenges_are_refused() -> None:
    past = Clock()
    past.now = time.time() - 1000  # the challenge expired 400 s ago
    guard = SignupGuard(TokenSigner(SECRET), SECRET, clock=past)
    challenge = altcha.Challenge.from_dict(guard.altcha_challenge())
    solution = altcha.solve_challenge(challenge)
    assert solution is not None
    assert guard.altcha_ok(altcha.Payload(challenge, solution).to_base64()) is False


def test_altcha_rejects_foreign_or_broken_payloads(guard: SignupGuard) -> None:
    foreign = altcha.create_challenge("PBKDF2/SHA-256", 10, hmac_secret="someone-else")
    solution = altcha.solve_challenge(foreign)
    assert solution is not None
    assert guard.altcha_ok(altcha.Payload(foreign, solution).to_base64()) is False
    for payload in (None, "", "not base64 at all", "e30=", "x" * 5000):
        assert guard.altcha_ok(payload) is False


def test_address_limit_counts_case_insensitively(guard: SignupGuard) -> None:
    assert guard.address_over("Ann@example.com", 2) is False
    assert guard.address_over("ann@EXAMPLE.com", 2) is False
    assert guard.address_over("ANN@example.com", 2) is True
    assert guard.address_over("bob@example.com", 2) is False
