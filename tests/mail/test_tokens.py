from __future__ import annotations

import pytest

from tidings.domain.errors import TokenExpired, TokenInvalid
from tidings.mail.tokens import Purpose, TokenSigner

signer = TokenSigner("a-secret-key-for-tests-0123456789")


def test_round_trip_and_short() -> None:
    token = signer.sign(Purpose.UNSUBSCRIBE, 1_234_567, 12, 345)
    assert len(token) <= 30
    assert signer.verify(Purpose.UNSUBSCRIBE, token, arity=3) == (1_234_567, 12, 345)


def test_every_altered_character_is_rejected() -> None:
    token = signer.sign(Purpose.UNSUBSCRIBE, 42, 0, 7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, char in enumerate(token):
        for replacement in (c for c in alphabet[::7] if c != char):
            forged = token[:i] + replacement + token[i + 1:]
            with pytest.raises(TokenInvalid):
                signer.verify(Purpose.UNSUBSCRIBE, forged, arity=3)


@pytest.mark.parametrize("forged", ["", "x", "!!!!", "a" * 500, "AAAAAAAAAAAAAAAAAAAAAAAA",
                                    "é" * 20])
def test_garbage_is_rejected(forged: str) -> None:
    with pytest.raises(TokenInvalid):
        signer.verify(Purpose.PREFERENCES, forged, arity=1)


def test_purposes_and_keys_do_not_mix() -> None:
    token = signer.sign(Purpose.PREFERENCES, 42)
    with pytest.raises(TokenInvalid):
        signer.verify(Purpose.UNSUBSCRIBE, token, arity=1)
    with pytest.raises(TokenInvalid):
        TokenSigner("another-secret-key-0123456789").verify(Purpose.PREFERENCES, token, arity=1)
    with pytest.raises(TokenInvalid):
        signer.verify(Purpose.PREFERENCES, token, arity=2)


def test_expiring_tokens_expire() -> None:
    token = signer.sign_expiring(Purpose.CONFIRM, 5, 9, now=1_000_000.0)
    assert signer.verify(Purpose.CONFIRM, token, arity=3, max_age=3600,
                         now=1_000_000.0 + 3000)[:2] == (5, 9)
    with pytest.raises(TokenExpired):
        signer.verify(Purpose.CONFIRM, token, arity=3, max_age=3600, now=1_000_000.0 + 3700)
