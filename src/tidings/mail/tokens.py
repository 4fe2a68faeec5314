"""Short, opaque, HMAC-signed tokens for the links in emails and pages.

A token is ``base64url(payload || mac)`` where the payload is the integers it
carries as unsigned varints and the mac is the first 12 bytes of
HMAC-SHA256 under a key derived for its purpose. An unsubscribe token for
(subscriber 1,234,567, list 12, campaign 345) is 26 characters, so the one-click
URL stays well under the length at which mail software starts folding headers.

Purposes never share keys, so a preferences token cannot be replayed as an
unsubscribe token. Expiring tokens carry their issue time (minutes since the
epoch) as their last integer; :meth:`TokenSigner.verify` checks it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from enum import StrEnum

from tidings.domain.errors import TokenExpired, TokenInvalid

_MAC_BYTES = 12
_MAX_TOKEN_CHARS = 200


class Purpose(StrEnum):
    UNSUBSCRIBE = "unsubscribe"    # (subscriber_id, list_id or 0 for all, campaign_id or 0)
    PREFERENCES = "preferences"    # (subscriber_id,)
    CONFIRM = "confirm"            # (subscriber_id, consent_id, issued_minute)
    SETUP = "setup"                # (issued_minute,)
    PASSWORD_RESET = "password"    # noqa: S105 (user_id, session_version, issued_minute)
    BOUNCE = "bounce"              # (subscriber_id, campaign_id) in VERP addresses
    SIGNUP_FORM = "form"           # (issued_second,) render time of a public form


def _encode_varints(values: tuple[int, ...]) -> bytes:
    out = bytearray()
    for value in values:
        if value < 0:
            raise ValueError("token values must be non-negative")
        while True:
            byte = value & 0x7F
            value >>= 7
            if value:
                out.append(byte | 0x80)
            else:
                out.append(byte)
                break
    return bytes(out)


def _decode_varints(data: bytes) -> tuple[int, ...]:
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                raise TokenInvalid()
        else:
            values.append(value)
            value = shift = 0
    if shift:
        raise TokenInvalid()
    return tuple(values)


class TokenSigner:
    """Signs and verifies tokens with keys derived from the secret key."""

    def __init__(self, secret: str) -> None:
        root = secret.encode("utf-8")
        self._keys = {
            p: hmac.digest(root, b"tidings-token:" + p.value.encode(), "sha256") for p in Purpose
        }

    def sign(self, purpose: Purpose, *values: int) -> str:
        payload = _encode_varints(values)
        mac = hmac.digest(self._keys[purpose], payload, "sha256")[:_MAC_BYTES]
        return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode("ascii")

    def sign_expiring(self, purpose: Purpose, *values: int, now: float | None = None) -> str:
        """Sign ``values`` plus the current minute, for :meth:`verify` with ``max_age``."""
        minute = int((time.time() if now is None else now) // 60)
        return self.sign(purpose, *values, minute)

    def verify(self, purpose: Purpose, token: str, *, arity: int,
               max_age: float | None = None, now: float | None = None) -> tuple[int, ...]:
        """Return the values of a genuine token of ``purpose`` with ``arity`` values.

        With ``max_age`` (seconds) the last value is the issue minute, and a token
        older than that raises :class:`TokenExpired`. Anything forged, altered,
        truncated or of another purpose raises :class:`TokenInvalid`.
        """
        if not token or len(token) > _MAX_TOKEN_CHARS:
            raise TokenInvalid()
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise TokenInvalid() from None
        if len(raw) <= _MAC_BYTES or not token.isascii():
            raise TokenInvalid()
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        expected = hmac.digest(self._keys[purpose], payload, "sha256")[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise TokenInvalid()
        # Re-encoding must give the same text: rejects non-canonical base64 variants.
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
            raise TokenInvalid()
        values = _decode_varints(payload)
        if len(values) != arity:
            raise TokenInvalid()
        if max_age is not None:
            issued = values[-1] * 60
            current = time.time() if now is None else now
            if current - issued > max_age:
                raise TokenExpired()
        return values

