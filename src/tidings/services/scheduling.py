"""Periodic work the worker runs every few seconds: start campaigns that are due."""

from __future__ import annotations

from datetime import datetime

from tidings.db import campaigns as db_campaigns
from tidings.db.database import Database
from tidings.db.types import utcnow
from tidings.domain.campaigns import Campaign
from tidings.domain.errors import InvalidTransition
from tidings.services import sending


def run_due(db: Database, now: datetime | None = None) -> list[Campaign]:
    """Start every scheduled campaign whose time has come; return those started."""
    now = now or utcnow()
    with db.read() as conn:
        due = db_campaigns.due_scheduled(conn, now)
    started = []
    for uid in due:
        try:
            started.append(sending.start(db, uid, actor="scheduler"))
        except InvalidTransition:
            continue  # changed meanwhile (unscheduled, cancelled, started by hand)
    return started
