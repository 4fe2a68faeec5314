"""Recording bounces and complaints, and acting on them.

=============  ===========================================================================
kind           action
=============  ===========================================================================
hard           blocklist the subscriber and suppress the address (it does not exist)
soft           record; blocklist after ``bounce.soft_threshold`` within the window
complaint      unsubscribe from every list, blocklist, suppress; a running campaign pauses
               when complaints reach ``bounce.complaint_pause_rate`` of what it sent
sender_config  record for the operator (an audit event); the address is not at fault
ignore         nothing (auto-replies, not-spam reports)
=============  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from tidings.db import bounces as db_bounces
from tidings.db import campaigns as db_campaigns
from tidings.db import consents, events
from tidings.db import subscribers as db_subscribers
from tidings.db import subscriptions as db_subscriptions
from tidings.db.database import Database
from tidings.domain import campaigns as campaign_states
from tidings.domain.bounces import BounceKind, classify, enhanced_status
from tidings.domain.campaigns import CampaignStatus
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.services import runtime_settings, suppressions

MIN_COMPLAINTS_TO_PAUSE = 3


def record(db: Database, *, subscriber_id: int | None, campaign_id: int | None,
           kind: BounceKind, source: str, status: str | None = None,
           diagnostic: str | None = None) -> None:
    """Record one bounce or complaint and apply the action of its kind, in one transaction."""
    if kind is BounceKind.IGNORE:
        return
    values = runtime_settings.get_all(db)
    with db.write() as conn:
        if campaign_id is not None and db_campaigns.get(conn, campaign_id) is None:
            campaign_id = None
        _apply(conn, values, subscriber_id=subscriber_id, campaign_id=campaign_id, kind=kind,
               source=source, status=status, diagnostic=diagnostic, now=utcnow())


def smtp_refusals(db: Database) -> Callable[
        [Connection, int | None, Sequence[tuple[int, int, str]], datetime], None]:
    """What the delivery engine calls with permanent (5xx) SMTP refusals.

    They are refusals of a campaign's messages (its id) or of transactional messages to
    a subscriber (None: a confirmation, a welcome). Each refusal (subscriber id, SMTP
    code, answer text) is classified and acted on exactly like a bounce that comes back
    later (source ``smtp``): ``550 5.1.1`` is hard (blocklisted, suppressed), ``552
    5.2.2`` soft (counted), ``554 5.7.1`` sender_config (the address is not blamed). It
    runs inside the transaction that records the outcome of the sending (ledger or
    outbox rows), so a refusal is never recorded without its consequence.
    """
    def handle(conn: Connection, campaign_id: int | None,
               refusals: Sequence[tuple[int, int, str]], now: datetime) -> None:
        values = runtime_settings.get_all(db)
        for subscriber_id, code, text in refusals:
            kind = classify(code=code, text=text)
            if kind is not BounceKind.IGNORE:
                _apply(conn, values, subscriber_id=subscriber_id, campaign_id=campaign_id,
                       kind=kind, source="smtp", status=enhanced_status(text) or str(code),
                       diagnostic=text, now=now)
    return handle


def _apply(conn: Connection, values: Mapping[str, Any], *, subscriber_id: int | None,
           campaign_id: int | None, kind: BounceKind, source: str, status: str | None,
           diagnostic: str | None, now: datetime) -> None:
    subscriber = db_subscribers.get(conn, subscriber_id) if subscriber_id else None
    db_bounces.insert_bounce(conn, subscriber_id=subscriber.id if subscriber else None,
                             campaign_id=campaign_id, kind=str(kind), source=source,
                             status_code=status, diagnostic=(diagnostic or "")[:2000], now=now)
    if kind is BounceKind.SENDER_CONFIG:
        events.record(conn, "delivery.sender_config", now, actor="bounces",
                      subject_type="campaign" if campaign_id else None, subject_id=campaign_id,
                      data={"status": status, "diagnostic": (diagnostic or "")[:300]})
        return
    if subscriber is None:
        return
    if kind is BounceKind.HARD:
        _block(conn, subscriber.id, subscriber.email, "hard_bounce")
    elif kind is BounceKind.SOFT:
        window = now - timedelta(days=int(values["bounce.soft_window_days"]))
        if db_bounces.count_since(conn, subscriber_id=subscriber.id, kind="soft",
                                  since=window) >= int(values["bounce.soft_threshold"]):
            _block(conn, subscriber.id, None, "soft_bounces")
    elif kind is BounceKind.COMPLAINT:
        _unsubscribe_all(conn, subscriber.id)
        _block(conn, subscriber.id, subscriber.email, "complaint")
        if campaign_id is not None:
            _pause_on_complaints(conn, campaign_id, float(values["bounce.complaint_pause_rate"]))


def _block(conn: Connection, subscriber_id: int, email: str | None, reason: str) -> None:
    now = utcnow()
    db_subscribers.update_subscriber(conn, subscriber_id, now,
                                     status=SubscriberStatus.BLOCKLISTED)
    if email is not None:
        suppressions.suppress(conn, email, reason)
    events.record(conn, "subscriber.blocklisted", now, actor="bounces",
                  subject_type="subscriber", subject_id=subscriber_id, data={"reason": reason})


def _unsubscribe_all(conn: Connection, subscriber_id: int) -> None:
    now = utcnow()
    current = db_subscriptions.for_subscriber(conn, subscriber_id)
    active = [s for s in current.values() if s.status is not SubscriptionStatus.UNSUBSCRIBED]
    for sub in active:
        db_subscriptions.put(conn, subscriber_id, sub.list_id, SubscriptionStatus.UNSUBSCRIBED,
                             now, existing=sub)
    if active:
        consents.record(conn, subscriber_id=subscriber_id, action="unsubscribe",
                        source="complaint", list_ids=[s.list_id for s in active], now=now)


def _pause_on_complaints(conn: Connection, campaign_id: int, rate: float) -> None:
    campaign = db_campaigns.get(conn, campaign_id)
    if campaign is None or campaign.status is not CampaignStatus.RUNNING:
        return
    complaints = db_bounces.count_for_campaign(conn, campaign_id, "complaint")
    if complaints >= MIN_COMPLAINTS_TO_PAUSE and complaints >= rate * max(campaign.sent, 1):
        now = utcnow()
        campaign_states.transition(campaign.status, CampaignStatus.PAUSED)
        db_campaigns.update_campaign(conn, campaign_id, now, status=CampaignStatus.PAUSED)
        events.record(conn, "campaign.paused", now, actor="bounces", subject_type="campaign",
                      subject_id=campaign_id,
                      data={"reason": "complaint rate", "complaints": complaints,
                            "sent": campaign.sent})
