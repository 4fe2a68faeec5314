"""Starting, pausing, resuming and cancelling a campaign's delivery.

These change the campaign's state (and freeze its audience on start); the delivery
worker (:mod:`tidings.delivery`) watches the state and does the sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tidings.db import audience, events
from tidings.db import campaigns as db_campaigns
from tidings.db.database import Database
from tidings.domain import campaigns as domain
from tidings.domain.campaigns import Campaign, CampaignStatus
from tidings.domain.errors import InvalidTransition
from tidings.domain.timezones import utcnow
from tidings.services.campaigns import find


def start(db: Database, ref: str, *, actor: str | None = None) -> Campaign:
    """Move a draft or scheduled campaign to running and freeze its audience."""
    now = utcnow()
    with db.write() as conn:
        campaign = find(conn, ref)
        if campaign.status is not CampaignStatus.PAUSED:  # paused ones resume, see below
            domain.transition(campaign.status, CampaignStatus.RUNNING)
        else:
            raise InvalidTransition("A paused campaign is resumed, not started again.")
        max_id = audience.highest_subscriber_id(conn)
        total = audience.campaign_count(conn, campaign, max_id)
        started = db_campaigns.update_campaign(
            conn, campaign.id, now, status=CampaignStatus.RUNNING, audience_max_id=max_id,
            total=total, started_at=now, progress_at=now)
        events.record(conn, "campaign.started", now, actor=actor, subject_type="campaign",
                      subject_id=campaign.id, data={"total": total})
    return started


def _move(db: Database, ref: str, target: CampaignStatus, kind: str,
          actor: str | None) -> Campaign:
    now = utcnow()
    with db.write() as conn:
        campaign = find(conn, ref)
        if target is CampaignStatus.RUNNING and campaign.status is not CampaignStatus.PAUSED:
            raise InvalidTransition(f"Only a paused campaign is resumed; this one is "
                                    f"{campaign.status}.", current=str(campaign.status))
        domain.transition(campaign.status, target)
        values: dict[str, object] = {"status": target}
        if target in domain.FINAL:
            values["finished_at"] = now
        moved = db_campaigns.update_campaign(conn, campaign.id, now, **values)
        events.record(conn, kind, now, actor=actor, subject_type="campaign",
                      subject_id=campaign.id)
    return moved


def pause(db: Database, ref: str, *, actor: str | None = None) -> Campaign:
    return _move(db, ref, CampaignStatus.PAUSED, "campaign.paused", actor)


def resume(db: Database, ref: str, *, actor: str | None = None) -> Campaign:
    return _move(db, ref, CampaignStatus.RUNNING, "campaign.resumed", actor)


def cancel(db: Database, ref: str, *, actor: str | None = None) -> Campaign:
    return _move(db, ref, CampaignStatus.CANCELLED, "campaign.cancelled", actor)


def finish(db: Database, campaign_id: int, *, data: dict[str, object] | None = None) -> bool:
    """Mark a running campaign finished (the worker found nothing left); False if not running."""
    now = utcnow()
    with db.write() as conn:
        campaign = db_campaigns.get(conn, campaign_id, for_update=True)
        if campaign is None or campaign.status is not CampaignStatus.RUNNING:
            return False
        db_campaigns.update_campaign(conn, campaign_id, now, status=CampaignStatus.FINISHED,
                                     finished_at=now)
        events.record(conn, "campaign.finished", now, actor="worker", subject_type="campaign",
                      subject_id=campaign_id, data=data or {})
    return True


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a campaign's sending is, as the worker last recorded it."""

    uid: str
    name: str
    status: CampaignStatus
    total: int
    sent: int
    failed: int
    skipped: int
    remaining: int
    rate: float          # messages per second over the last seconds
    eta: float | None    # seconds until done at that rate
    updated_at: datetime | None
    error: str | None = None  # why the worker paused it, if it did
    state: str | None = None  # the worker's: sending, backing off, error, finished, stopped
    relays: tuple[dict[str, Any], ...] = ()  # relays in trouble: last error, back-off

    @property
    def done(self) -> bool:
        return self.status in domain.FINAL

    def as_dict(self) -> dict[str, object]:
        return {"id": self.uid, "name": self.name, "status": str(self.status),
                "total": self.total, "sent": self.sent, "failed": self.failed,
                "skipped": self.skipped, "remaining": self.remaining,
                "rate": round(self.rate, 1), "eta": None if self.eta is None
                else round(self.eta), "updated_at": self.updated_at, "error": self.error,
                "state": self.state, "relays": list(self.relays)}


def progress(db: Database, ref: str) -> Progress:
    with db.read() as conn:
        campaign = find(conn, ref)
        updated_at = db_campaigns.progress_at(conn, campaign.id)
    info = campaign.extra.get("delivery")
    delivery: dict[str, Any] = info if isinstance(info, dict) else {}
    skipped = int(delivery.get("skipped", 0))
    remaining = 0 if campaign.status is CampaignStatus.FINISHED else max(
        0, campaign.total - campaign.sent - campaign.failed - skipped)
    rate = float(delivery.get("rate", 0.0)) if campaign.status is CampaignStatus.RUNNING \
        else 0.0
    return Progress(uid=campaign.uid, name=campaign.name, status=campaign.status,
                    total=campaign.total, sent=campaign.sent, failed=campaign.failed,
                    skipped=skipped, remaining=remaining, rate=rate,
                    eta=remaining / rate if rate > 0 else None, updated_at=updated_at,
                    error=str(delivery["error"]) if delivery.get("error") else None,
                    state=str(delivery["state"]) if delivery.get("state") else None,
                    relays=tuple(r for r in delivery.get("relays") or () if isinstance(r, dict)))
