"""Reading what arrives at the bounce address: DSNs, ARF complaints, auto-replies.

:func:`read` turns one raw message into a :class:`Report`: who it is about (from the
VERP address it was sent to, or the tokens found in the returned original), and one
:class:`Failure` per recipient it describes.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

from tidings.domain.bounces import BounceKind, classify, enhanced_status
from tidings.domain.errors import TokenInvalid
from tidings.mail.tokens import Purpose, TokenSigner

_VERP = re.compile(r"bounces\+([A-Za-z0-9_-]+)@", re.I)
_MAILTO = re.compile(r"^unsubscribe\+([A-Za-z0-9_-]+)@", re.I)
_UNSUBSCRIBE_URL = re.compile(r"/u/([A-Za-z0-9_-]{16,200})")
_VACATION = re.compile(r"out of (the )?office|vacation|auto(matic)?[- ]?reply|abwesen", re.I)
_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Failure:
    recipient: str | None
    kind: BounceKind
    status: str | None
    diagnostic: str


@dataclass(frozen=True, slots=True)
class Report:
    """One inbound message, understood."""

    source: str                       # dsn, arf, autoreply, unknown
    subscriber_id: int | None
    campaign_id: int | None
    failures: list[Failure] = field(default_factory=list)


def verp_ids(address: str, tokens: TokenSigner) -> tuple[int, int] | None:
    """(subscriber id, campaign id) from a VERP address, or None if it is not ours."""
    match = _VERP.search(address)
    if not match:
        return None
    try:
        subscriber_id, campaign_id = tokens.verify(Purpose.BOUNCE, match.group(1), arity=2)
    except TokenInvalid:
        return None
    return subscriber_id, campaign_id


def mailto_ids(address: str, tokens: TokenSigner) -> tuple[int, int, int] | None:
    """(subscriber id, list id or 0, campaign id or 0) from a List-Unsubscribe mailto
    address, or None if it is not a genuine one."""
    match = _MAILTO.match(address.strip().strip("<>"))
    if not match:
        return None
    try:
        subscriber_id, list_id, campaign_id = tokens.verify(Purpose.UNSUBSCRIBE, match.group(1),
                                                            arity=3)
    except TokenInvalid:
        return None
    return subscriber_id, list_id, campaign_id


def _ids_in_text(text: str, tokens: TokenSigner) -> tuple[int | None, int | None]:
    for match in _VERP.finditer(text):
        found = verp_ids(match.group(0), tokens)
        if found:
            return found
    for match in _UNSUBSCRIBE_URL.finditer(text):
        try:
            subscriber_id, _list_id, campaign_id = tokens.verify(
                Purpose.UNSUBSCRIBE, match.group(1), arity=3)
        except TokenInvalid:
            continue
        return subscriber_id, campaign_id or None
    return None, None


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    if isinstance(payload, list):
        return "\n".join(_text_of(p) for p in payload)
    return str(part.get_payload())


def _returned_original(message: EmailMessage) -> str:
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers",
                                       "message/rfc822-headers"):
            return part.as_string() if part.get_content_type() == "message/rfc822" \
                else _text_of(part)
    return ""


def _dsn_failures(message: EmailMessage) -> list[Failure] | None:
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            return []
        failures = []
        for block in blocks[1:]:  # block 0 is the per-message part
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action", "")).strip().lower()
            if action not in ("failed", "delayed"):
                continue
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            final = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            recipient = final.split(";", 1)[-1].strip() or None
            status = enhanced_status(str(block.get("Status", ""))) or enhanced_status(diagnostic)
            failures.append(Failure(recipient, classify(status, text=diagnostic,
                                                        action=action),
                                    status, diagnostic[:500]))
        return failures
    return None


def _arf(message: EmailMessage) -> Failure | None:
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        fields = part.get_payload()
        report = fields[0] if isinstance(fields, list) and fields else part
        if not isinstance(report, Message):
            report = part
        feedback = str(report.get("Feedback-Type", "abuse")).strip().lower()
        if feedback == "not-spam":
            return Failure(None, BounceKind.IGNORE, None, "not-spam report")
        recipient = str(report.get("Original-Rcpt-To", "") or "").strip() or None
        return Failure(recipient, BounceKind.COMPLAINT, None, f"feedback-type {feedback}")
    return None


def read(raw: bytes, tokens: TokenSigner, *, envelope_to: str = "") -> Report:
    """Understand one message that arrived at a bounce or complaint address."""
    message = email.message_from_bytes(raw[:_MAX_BYTES], policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    ids = verp_ids(envelope_to, tokens) if envelope_to else None
    original = _returned_original(message)
    if ids is None:
        found = _ids_in_text(str(message.get("Original-Mail-From", "")) + "\n" + original,
                             tokens)
        if found == (None, None):
            found = _ids_in_text(" ".join(str(v) for v in message.values()), tokens)
        subscriber_id, campaign_id = found
    else:
        subscriber_id, campaign_id = ids[0], ids[1] or None

    complaint = _arf(message)
    if complaint is not None:
        if complaint.kind is BounceKind.COMPLAINT:
            for part in message.walk():
                if part.get_content_type() == "message/feedback-report":
                    found = _ids_in_text(part.as_string(), tokens)
                    if subscriber_id is None and found[0] is not None:
                        subscriber_id, campaign_id = found
        return Report("arf", subscriber_id, campaign_id, [complaint])

    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto.startswith("auto-replied") or (
            _VACATION.search(str(message.get("Subject", "")))
            and message.get_content_type() != "multipart/report"):
        return Report("autoreply", subscriber_id, campaign_id,
                      [Failure(None, BounceKind.IGNORE, None, "automatic reply")])

    failures = _dsn_failures(message)
    if failures is not None:
        return Report("dsn", subscriber_id, campaign_id, failures)
    # Not a standard DSN: some MTAs send plain-text bounces.
    body = _text_of(message)[:20000]
    status = enhanced_status(body)
    return Report("unknown", subscriber_id, campaign_id,
                  [Failure(None, classify(status, text=body), status,
                           " ".join(body.split())[:500])])
