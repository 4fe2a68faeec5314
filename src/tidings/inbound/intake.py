"""Processing one inbound message: understand it, then record what it says."""

from __future__ import annotations

from tidings.db.database import Database
from tidings.domain.bounces import BounceKind
from tidings.inbound.reports import Report, read
from tidings.mail.tokens import TokenSigner
from tidings.services import bounces


def process(db: Database, tokens: TokenSigner, raw: bytes, *, envelope_to: str = "") -> Report:
    """Read a bounce, complaint or auto-reply and record every failure it reports."""
    report = read(raw, tokens, envelope_to=envelope_to)
    for failure in report.failures:
        if failure.kind is BounceKind.IGNORE:
            continue
        bounces.record(db, subscriber_id=report.subscriber_id, campaign_id=report.campaign_id,
                       kind=failure.kind, source=report.source, status=failure.status,
                       diagnostic=failure.diagnostic)
    return report
