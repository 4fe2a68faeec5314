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

from tidings.domain.errors import InvalidTransition


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
