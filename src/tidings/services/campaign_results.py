"""What a campaign's sending came to: outcomes per status and sends over time.

Counting a large campaign's ledger takes time, so a finished or cancelled campaign's
results are computed once per process and kept (they cannot change any more).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tidings.db import campaigns as db_campaigns
from tidings.db import stats as db_stats
from tidings.db.database import Database
from tidings.domain.campaigns import FINAL


@dataclass(frozen=True, slots=True)
class Summary:
    outcomes: dict[str, int]                     # delivery status -> count
    per_minute: list[tuple[datetime, int]]       # messages accepted per minute


def summary(db: Database, campaign_id: int) -> Summary:
    key = f"campaign_results:{campaign_id}"
    hit: Summary | None = db.cache.get(key)
    if hit is not None:
        return hit
    with db.read() as conn:
        campaign = db_campaigns.get(conn, campaign_id)
        found = Summary(outcomes=db_stats.delivery_counts(conn, campaign_id),
                        per_minute=db_stats.sends_per_minute(conn, campaign_id))
    if campaign is not None and campaign.status in FINAL:
        db.cache[key] = found
    return found
