"""Processing one inbound message: understand it, then act on what it says.

Mail to a List-Unsubscribe ``mailto:`` address unsubscribes (whatever the body says:
RFC 2369 asks nothing more of the reader); everything else is read as a bounce,
complaint or auto-reply.
"""

from __future__ import annotations

from tidings.db.database import Database
from tidings.domain.bounces import BounceKind
from tidings.inbound.reports import Failure, Report, mailto_ids, read
from tidings.mail.tokens import TokenSigner
from tidings.services import bounces, preferences


def process(db: Database, tokens: TokenSigner, raw: bytes, *, envelope_to: str = "") -> Report:
    """Unsubscribe (mailto address), or record every failure a bounce or complaint reports."""
    unsubscribe = mailto_ids(envelope_to, tokens) if envelope_to else None
    if unsubscribe is not None:
        subscriber_id, list_id, campaign_id = unsubscribe
        left = preferences.unsubscribe(db, subscriber_id, list_id or None, source="email",
                                       campaign_id=campaign_id)
        return Report("mailto", subscriber_id, campaign_id or None,
                      [Failure(None, BounceKind.IGNORE, None, f"left {len(left)} list(s)")])
    report = read(raw, tokens, envelope_to=envelope_to)
    for failure in report.failures:
        if failure.kind is BounceKind.IGNORE:
            continue
        bounces.record(db, subscriber_id=report.subscriber_id, campaign_id=report.campaign_id,
                       kind=failure.kind, source=report.source, status=failure.status,
                       diagnostic=failure.diagnostic)
    return report
