"""Bounce kinds, and what a failure means for the address: the classification table.

Rules apply in order: the enhanced status code (RFC 3463) first, then the SMTP reply
code, then text heuristics.

=================================================  ==============  ====================
signal                                             class           effect
=================================================  ==============  ====================
5.1.1 5.1.2 5.1.3 5.1.6 5.1.10, 5.2.1, "no such"   hard            suppress now
5.2.2 (mailbox full), 4.x.x, delayed, 421/450-452  soft            count; N in window
5.7.x policy, 5.7.25 PTR, 5.7.26 DMARC, 5.7.515,   sender_config   never blame the
4.7.28, TSS04, missing Message-ID                                  address; alert
other 5.x.x / 5xx                                  hard            suppress now
ARF Feedback-Type abuse/fraud/virus                complaint       unsubscribe, suppress
auto-replies (Auto-Submitted, vacation)            ignore          nothing
nothing recognisable                               soft            count (as listmonk)
=================================================  ==============  ====================
"""

from __future__ import annotations

import re
from enum import StrEnum


class BounceKind(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"
    SENDER_CONFIG = "sender_config"
    IGNORE = "ignore"


_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_HARD_SUBJECTS = {("1", "1"), ("1", "2"), ("1", "3"), ("1", "6"), ("1", "10"), ("2", "1")}
_SENDER_TEXT = re.compile(
    r"TSS04|4\.7\.28|5\.7\.515|5\.7\.26|5\.7\.25|DMARC|SPF|DKIM|reverse DNS|PTR|"
    r"missing a valid Message-ID|blocked using|listed at|spamhaus|reputation", re.I)
_HARD_TEXT = re.compile(
    r"no such (user|mailbox|recipient)|user unknown|unknown user|does not exist|"
    r"doesn't have an? (yahoo\.com )?account|mailbox (is )?unavailable|invalid recipient|"
    r"recipient address rejected|address rejected|account (has been )?disabled", re.I)
_FULL_TEXT = re.compile(r"mailbox (is )?full|over ?quota|quota exceeded|insufficient storage",
                        re.I)


def enhanced_status(text: str) -> str | None:
    """The first RFC 3463 status code in ``text`` (e.g. ``5.1.1``), if any."""
    match = _STATUS.search(text)
    return ".".join(match.groups()) if match else None


def classify(status: str | None = None, *, code: int | None = None, text: str = "",
             action: str | None = None) -> BounceKind:
    """Classify one failure from its enhanced status, SMTP code, text and DSN action."""
    status = status or enhanced_status(text)
    if action and action.lower() == "delayed":
        return BounceKind.SOFT
    if _SENDER_TEXT.search(text) or (status and status in {"4.7.28", "5.7.25", "5.7.26",
                                                           "5.7.515"}):
        return BounceKind.SENDER_CONFIG
    if status:
        klass, subject, detail = status.split(".")
        if klass == "4":
            return BounceKind.SOFT
        if klass == "5":
            if (subject, detail) == ("2", "2"):
                return BounceKind.SOFT
            if (subject, detail) in _HARD_SUBJECTS:
                return BounceKind.HARD
            if subject == "7":
                return BounceKind.SENDER_CONFIG
            if _FULL_TEXT.search(text):
                return BounceKind.SOFT
            return BounceKind.HARD
    if code is not None:
        if 400 <= code < 500:
            return BounceKind.SOFT
        if 500 <= code < 600:
            return BounceKind.SOFT if _FULL_TEXT.search(text) else BounceKind.HARD
    if _FULL_TEXT.search(text):
        return BounceKind.SOFT
    if _HARD_TEXT.search(text):
        return BounceKind.HARD
    return BounceKind.SOFT
