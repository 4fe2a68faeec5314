from __future__ import annotations

import pytest

from tidings.domain.bounces import BounceKind, classify, enhanced_status

H, S, C, X = BounceKind.HARD, BounceKind.SOFT, BounceKind.SENDER_CONFIG, BounceKind.IGNORE


@pytest.mark.parametrize(("status", "code", "text", "action", "kind"), [
    ("5.1.1", 550, "550 5.1.1 The email account that you tried to reach does not exist",
     "failed", H),
    ("5.1.2", None, "Host or domain name not found", "failed", H),
    ("5.1.10", 556, "556 5.1.10 Recipient address has null MX", "failed", H),
    ("5.2.1", 550, "550 5.2.1 The email account is disabled", "failed", H),
    ("5.2.2", 552, "552 5.2.2 The email account is over quota", "failed", S),
    ("4.2.2", 452, "Mailbox full", "delayed", S),
    ("4.4.1", None, "Connection timed out", "failed", S),
    (None, 421, "421 4.7.0 [TSS04] Messages temporarily deferred", None, C),
    ("4.7.28", 421, "421 4.7.28 rate limited due to unsolicited mail", None, C),
    ("5.7.26", 550, "550 5.7.26 Unauthenticated email is not accepted (DMARC)", "failed", C),
    ("5.7.25", 550, "550 5.7.25 The IP address sending this message does not have a PTR", None, C),
    ("5.7.515", 550, "550 5.7.515 Access denied, sending domain does not meet ...", None, C),
    (None, 550, "550 5.7.1 Messages missing a valid Message-ID header are not accepted", None, C),
    (None, 550, "550 Requested action not taken: mailbox unavailable", None, H),
    (None, None, "554 delivery error: dd This user doesn't have a yahoo.com account", None, H),
    (None, 451, "451 Temporary local problem", None, S),
    (None, None, "something odd happened", None, S),
])
def test_classification_table(status: str | None, code: int | None, text: str,
                              action: str | None, kind: BounceKind) -> None:
    assert classify(status, code=code, text=text, action=action) is kind


def test_enhanced_status_is_found_in_text() -> None:
    assert enhanced_status("smtp; 550 5.1.1 <x@example.com>: user unknown") == "5.1.1"
    assert enhanced_status("no code here 550") is None
