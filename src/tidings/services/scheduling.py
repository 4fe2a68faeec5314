"""Scheduling campaigns, and the periodic work the worker runs every few seconds.

A campaign is scheduled for a wall-clock time in a named time zone; it is stored as
the UTC instant plus the zone's name, so it starts at the right moment across
daylight-saving changes. A local time that does not exist (clocks jump forward) is
refused; one that happens twice (clocks fall back) means the first occurrence.

:func:`run_due` starts scheduled campaigns whose time has come; the state lives in the
database, so a restart changes nothing. A campaign whose time passed more than
``campaigns.late_grace_minutes`` ago (the server was down) is **held** instead: it
stays ``scheduled``, flagged with ``extra["held_at"]``, until someone decides: send
now (:func:`send_now`), reschedule (:func:`schedule`) or cancel
(:func:`tidings.services.sending.cancel`). The tick also runs the RSS feeds that are
due (:mod:`tidings.services.feeds`) and, once an hour, forgets signups nobody
confirmed (:mod:`tidings.services.unconfirmed`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tidings.db import campaigns as db_campaigns
from tidings.db import events
from tidings.db.database import Database
from tidings.domain import campaigns as domain
from tidings.domain.campaigns import Campaign, CampaignStatus
from tidings.domain.errors import InvalidTransition, ValidationError
from tidings.domain.timezones import to_utc, utcnow
from tidings.services import feeds, runtime_settings, sending, unconfirmed
from tidings.services.campaigns import find
from tidings.services.fetcher import Fetcher

log = logging.getLogger("tidings.scheduling")

HELD = "held_at"


def schedule(db: Database, ref: str, at: datetime, timezone: str = "UTC", *,
             now: datetime | None = None, actor: str | None = None) -> Campaign:
    """Schedule a draft, or reschedule a scheduled (or held) campaign, for ``at``.

    ``at`` is wall-clock time in ``timezone`` when naive; it must lie in the future.
    """
    now = now or utcnow()
    when = to_utc(at, timezone)
    if when <= now:
        raise ValidationError("The time to send lies in the past.", field="at")
    with db.write() as conn:
        campaign = find(conn, ref)
        if campaign.status is not CampaignStatus.SCHEDULED:
            domain.transition(campaign.status, CampaignStatus.SCHEDULED)
        extra = {k: v for k, v in campaign.extra.items() if k != HELD}
        scheduled = db_campaigns.update_campaign(
            conn, campaign.id, now, status=CampaignStatus.SCHEDULED, scheduled_at=when,
            timezone=timezone, extra=extra)
        events.record(conn, "campaign.scheduled", now, actor=actor, subject_type="campaign",
                      subject_id=campaign.id,
                      data={"at": when.isoformat(), "timezone": timezone,
                            "was_held": HELD in campaign.extra})
    return scheduled


def unschedule(db: Database, ref: str, *, actor: str | None = None) -> Campaign:
    """Turn a scheduled (or held) campaign back into a draft."""
    now = utcnow()
    with db.write() as conn:
        campaign = find(conn, ref)
        domain.transition(campaign.status, CampaignStatus.DRAFT)
        extra = {k: v for k, v in campaign.extra.items() if k != HELD}
        draft = db_campaigns.update_campaign(conn, campaign.id, now,
                                             status=CampaignStatus.DRAFT, scheduled_at=None,
                                             extra=extra)
        events.record(conn, "campaign.unscheduled", now, actor=actor, subject_type="campaign",
                      subject_id=campaign.id)
    return draft


def send_now(db: Database, ref: str, *, actor: str | None = None) -> Campaign:
    """Start a draft, scheduled or held campaign at once (the "send now" decision)."""
    return sending.start(db, ref, actor=actor)


def held_since(campaign: Campaign) -> datetime | None:
    """When the campaign was held for a decision, or None if it is not held."""
    value = campaign.extra.get(HELD)
    if campaign.status is not CampaignStatus.SCHEDULED or not isinstance(value, str):
        return None
    return datetime.fromisoformat(value)


def describe(campaign: Campaign) -> str:
    """The status as people read it: ``scheduled (held)`` for a held campaign."""
    return f"{campaign.status} (held)" if held_since(campaign) else str(campaign.status)


def held(db: Database) -> list[Campaign]:
    """The campaigns waiting for a decision because their time passed long ago."""
    with db.read() as conn:
        return [c for c in db_campaigns.recent(conn, limit=1000,
                                               status=CampaignStatus.SCHEDULED)
                if held_since(c) is not None]


def grace(db: Database) -> timedelta:
    return timedelta(minutes=int(runtime_settings.get(db, "campaigns.late_grace_minutes")))


def run_due(db: Database, now: datetime | None = None, *,
            fetcher: Fetcher | None = None) -> list[Campaign]:
    """The scheduler tick: start due campaigns, hold long-missed ones, run due feeds,
    purge unconfirmed signups when that is due.

    Returns the campaigns started (scheduled ones and automatically sent digests).
    """
    now = now or utcnow()
    late = grace(db)
    with db.read() as conn:
        due = [uid for uid in db_campaigns.due_scheduled(conn, now)
               if HELD not in find(conn, uid).extra]
    started = []
    for uid in due:
        try:
            campaign = _start_or_hold(db, uid, now, late)
        except InvalidTransition:
            continue  # changed meanwhile (unscheduled, cancelled, started by hand)
        if campaign is not None:
            started.append(campaign)
    started.extend(feeds.run_due(db, now, late=late, fetcher=fetcher))
    unconfirmed.run_periodically(db, now)
    return started


def _start_or_hold(db: Database, uid: str, now: datetime, late: timedelta) -> Campaign | None:
    with db.write() as conn:
        campaign = find(conn, uid)
        if campaign.status is not CampaignStatus.SCHEDULED or HELD in campaign.extra \
                or campaign.scheduled_at is None or campaign.scheduled_at > now:
            return None
        if now - campaign.scheduled_at > late:
            extra: dict[str, Any] = {**campaign.extra, HELD: now.isoformat()}
            db_campaigns.update_campaign(conn, campaign.id, now, extra=extra)
            events.record(conn, "campaign.held", now, actor="scheduler",
                          subject_type="campaign", subject_id=campaign.id,
                          data={"scheduled_at": campaign.scheduled_at.isoformat(),
                                "late_seconds": int((now - campaign.scheduled_at)
                                                    .total_seconds())})
            log.warning("campaign %s was due at %s, more than %s ago; held for a decision",
                        campaign.uid, campaign.scheduled_at, late)
            return None
    return sending.start(db, uid, actor="scheduler")
