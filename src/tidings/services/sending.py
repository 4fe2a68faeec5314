"""Starting, pausing, resuming and cancelling a campaign's delivery.

These change the campaign's state (and freeze its audience on start); the delivery
worker (:mod:`tidings.delivery`) watches the state and does the sending.
"""

from __future__ import annotations

from tidings.db import audience, events
from tidings.db import campaigns as db_campaigns
from tidings.db.database import Database
from tidings.db.types import utcnow
from tidings.domain import campaigns as domain
from tidings.domain.campaigns import Campaign, CampaignStatus
from tidings.domain.errors import InvalidTransition
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
