"""The delivery ledger: one row per (campaign, subscriber), the truth about sending.

::

    claimed ──accepted──► sent
       │ ──4xx / drop──► retry ──(backoff)──► claimed
       └──5xx / retries exhausted──► failed
    skipped: the reader opted out or was blocklisted after the audience froze

A recipient is claimed before sending and marked sent once the relay accepts;
resume, pause and crash recovery read the ledger, so nobody is skipped and
duplicates are bounded by what was in flight.
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    CLAIMED = "claimed"
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"


FINAL = frozenset({DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED})
