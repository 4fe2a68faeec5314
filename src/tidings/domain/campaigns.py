"""Campaigns and their state machine.

::

    draft ──schedule──► scheduled ──start (due)──► running ⇄ paused
      │  ◄──unschedule──┘    │                       │         │
      └──────start now───────┼──────────────────────►│         │
                             └──cancel──► cancelled ◄┴─cancel──┘
                                                     running ──► finished

A campaign only leaves ``draft`` forward; ``finished`` and ``cancelled`` are final.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tidings.domain.errors import InvalidTransition, ValidationError


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class BodyFormat(StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"
    TEXT = "text"


_ALLOWED: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.SCHEDULED, CampaignStatus.RUNNING}),
    CampaignStatus.SCHEDULED: frozenset(
        {CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.CANCELLED}),
    CampaignStatus.RUNNING: frozenset(
        {CampaignStatus.PAUSED, CampaignStatus.FINISHED, CampaignStatus.CANCELLED}),
    CampaignStatus.PAUSED: frozenset({CampaignStatus.RUNNING, CampaignStatus.CANCELLED}),
    CampaignStatus.FINISHED: frozenset(),
    CampaignStatus.CANCELLED: frozenset(),
}

EDITABLE = frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED})
ACTIVE = frozenset({CampaignStatus.RUNNING, CampaignStatus.PAUSED})
FINAL = frozenset({CampaignStatus.FINISHED, CampaignStatus.CANCELLED})


def can_transition(current: CampaignStatus, target: CampaignStatus) -> bool:
    return target in _ALLOWED[current]


def transition(current: CampaignStatus, target: CampaignStatus) -> CampaignStatus:
    """Return ``target`` if the move is allowed, else raise :class:`InvalidTransition`."""
    if not can_transition(current, target):
        raise InvalidTransition(f"A {current} campaign cannot become {target}.",
                                current=str(current), target=str(target))
    return target


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    uid: str
    name: str
    subject: str
    body: str
    body_format: BodyFormat
    status: CampaignStatus
    created_at: datetime
    updated_at: datetime
    list_ids: tuple[int, ...] = ()
    from_name: str = ""
    from_email: str = ""
    reply_to: str = ""
    template_id: int | None = None
    segment_id: int | None = None
    scheduled_at: datetime | None = None
    timezone: str = "UTC"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    audience_max_id: int | None = None
    total: int = 0
    sent: int = 0
    failed: int = 0
    archive: bool = False
    archive_slug: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


MAX_SUBJECT = 998
MAX_BODY_BYTES = 5 * 1024 * 1024


def check_subject(subject: str) -> str:
    """One line of at most 998 characters: CR, LF and other controls are refused."""
    if any(ord(c) < 32 or c in "\u2028\u2029\x7f" for c in subject):
        raise ValidationError("The subject must be one line without control characters.",
                              field="subject")
    subject = subject.strip()
    if not subject:
        raise ValidationError("The subject is empty.", field="subject")
    if len(subject) > MAX_SUBJECT:
        raise ValidationError(f"The subject is longer than {MAX_SUBJECT} characters.",
                              field="subject")
    return subject


def check_body(body: str) -> str:
    if len(body.encode("utf-8")) > MAX_BODY_BYTES:
        raise ValidationError("The body is larger than 5 MiB.", field="body")
    if "\x00" in body:
        raise ValidationError("The body contains a NUL character.", field="body")
    return body
