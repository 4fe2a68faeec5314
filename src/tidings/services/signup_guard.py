"""Keeping bots and list-bombers off the signup forms.

* **Honeypot**: a field hidden from people; a bot that fills it is answered as usual
  and nothing is stored or sent.
* **Fill time**: every form carries a signed render time (``Purpose.SIGNUP_FORM``);
  a form sent back sooner than ``signup.min_fill_seconds`` is treated like the
  honeypot. A form without a genuine render time younger than a day is shown again.
* **Rate limits**: per IP address (IPv6 per /64), answered 429 with Retry-After; and
  per email address, answered as usual without storing anything. Both are in-process
  sliding windows (:mod:`tidings.services.ratelimit`).
* **ALTCHA** (``signup.altcha``): a self-hosted proof-of-work, solved by the form's
  script in the browser; each solved challenge is accepted once (replays are refused
  while the challenge is valid; the record is per process like the rate limits).

The per-address cap on confirmation emails is enforced in the signup transaction
itself (:mod:`tidings.services.signups`).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import altcha

from tidings.domain.emails import casefold_key
from tidings.domain.errors import TokenInvalid
from tidings.mail.tokens import Purpose, TokenSigner
from tidings.services.ratelimit import SlidingWindow, ip_key

FORM_MAX_AGE = 24 * 3600
ALTCHA_ALGORITHM = "PBKDF2/SHA-256"
ALTCHA_COST = 5000          # PBKDF2 rounds per attempt: about a second in a browser
ALTCHA_LIFETIME = 600       # seconds a challenge may be solved and sent in
_REPLAY_PRUNE_AT = 10_000


class Verdict(StrEnum):
    ACCEPT = "accept"   # a person, as far as can be told
    QUIET = "quiet"     # a bot: answer as usual, store and send nothing
    STALE = "stale"     # no genuine render time: show the form again


class SignupGuard:
    """The abuse checks of one server process. Build one per app."""

    def __init__(self, tokens: TokenSigner, secret_key: str, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._tokens = tokens
        self._clock = clock
        self._altcha_secret = hmac.digest(secret_key.encode(), b"tidings-altcha", "sha256")
        self._used: dict[str, float] = {}
        self._used_lock = threading.Lock()
        self.per_ip = SlidingWindow(3600)
        self.per_address = SlidingWindow(3600)

    # -- fill time and honeypot ---------------------------------------------------------

    def form_token(self) -> str:
        """The signed render time to put in a form."""
        return self._tokens.sign(Purpose.SIGNUP_FORM, int(self._clock()))

    def judge(self, *, form_token: str | None, honeypot: str | None,
              min_fill_seconds: float) -> Verdict:
        """Look at the honeypot and the fill time of a submitted form."""
        if honeypot:
            return Verdict.QUIET
        if not form_token:
            return Verdict.STALE
        try:
            (issued,) = self._tokens.verify(Purpose.SIGNUP_FORM, form_token, arity=1)
        except TokenInvalid:
            return Verdict.STALE
        age = self._clock() - issued
        if age > FORM_MAX_AGE or age < -60:
            return Verdict.STALE
        if age < min_fill_seconds:
            return Verdict.QUIET
        return Verdict.ACCEPT

    # -- rate limits ---------------------------------------------------------------------

    def ip_wait(self, ip: str, limit: int) -> float:
        """Count a signup from ``ip``; return 0, or the seconds to wait when over ``limit``."""
        return self.per_ip.hit(ip_key(ip), limit)

    def address_over(self, address: str, limit: int) -> bool:
        """Count a signup request for ``address``; True when over ``limit`` this hour."""
        key = hashlib.sha256(casefold_key(address).encode()).hexdigest()[:32]
        return self.per_address.hit(key, limit) > 0

    # -- ALTCHA --------------------------------------------------------------------------

    def altcha_challenge(self) -> dict[str, Any]:
        """A fresh signed challenge, as JSON for the form's script."""
        challenge = altcha.create_challenge(
            ALTCHA_ALGORITHM, ALTCHA_COST, hmac_secret=self._altcha_secret,
            expires_at=int(self._clock()) + ALTCHA_LIFETIME)
        return dict(challenge.to_dict())

    def altcha_ok(self, payload: str | None) -> bool:
        """Whether ``payload`` solves a challenge of ours that was not used before."""
        if not payload or len(payload) > 4096:
            return False
        try:
            result = altcha.verify_solution(payload, self._altcha_secret)
            parsed = altcha.Payload.from_base64(payload)
        except (ValueError, KeyError, TypeError):
            return False
        if not result.verified:
            return False
        signature = str(parsed.challenge.signature)
        expires = float(parsed.challenge.parameters.expires_at or 0)
        now = self._clock()
        with self._used_lock:
            if signature in self._used:
                return False
            if len(self._used) >= _REPLAY_PRUNE_AT:
                self._used = {s: t for s, t in self._used.items() if t > now}
            self._used[signature] = expires
        return True
