"""Campaign drafts: creating, finding and listing them.

Sending (start, pause, resume, cancel, progress) is in :mod:`tidings.services.sending`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from tidings.db import campaigns as db_campaigns
from tidings.db import events
from tidings.db.database import Database
from tidings.db.types import utcnow
from tidings.domain import campaigns as domain
from tidings.domain import emails
from tidings.domain.campaigns import BodyFormat, Campaign, CampaignStatus
from tidings.domain.errors import NotFound, ValidationError
from tidings.domain.ids import as_internal_id, looks_like_uid, new_uid, plausible_ref
from tidings.domain.lists import check_name
from tidings.domain.subscribers import check_name as check_display_name
from tidings.services.lists import find as find_list


def create(db: Database, *, name: str, subject: str, body: str,
           body_format: BodyFormat = BodyFormat.MARKDOWN, lists: Sequence[str] = (),
           from_name: str = "", from_email: str = "", reply_to: str = "",
           template_id: int | None = None, segment_id: int | None = None,
           actor: str | None = None) -> Campaign:
    """Create a draft; raise :class:`ValidationError` or :class:`NotFound` (list)."""
    values = {
        "uid": new_uid(),
        "name": check_name(name),
        "subject": domain.check_subject(subject),
        "body": domain.check_body(body),
        "body_format": str(BodyFormat(body_format)),
        "from_name": check_display_name(from_name),
        "from_email": emails.normalize(from_email) if from_email else "",
        "reply_to": emails.normalize(reply_to) if reply_to else "",
        "template_id": template_id,
        "segment_id": segment_id,
        "status": str(CampaignStatus.DRAFT),
    }
    now = utcnow()
    with db.write() as conn:
        targets = [find_list(conn, ref).id for ref in lists]
        if not targets and segment_id is None:
            raise ValidationError("A campaign needs at least one list or a segment.",
                                  field="lists")
        created = db_campaigns.insert_campaign(conn, values, list(dict.fromkeys(targets)), now)
        events.record(conn, "campaign.created", now, actor=actor, subject_type="campaign",
                      subject_id=created.id)
    return created


def find(conn: Connection, ref: str) -> Campaign:
    """Find a campaign by public id or integer id; raise :class:`NotFound`."""
    ref = ref.strip()
    if not plausible_ref(ref):
        raise NotFound(f"No campaign {ref!r}.")
    found = db_campaigns.get_by_uid(conn, ref) if looks_like_uid(ref) else None
    if found is None and as_internal_id(ref) is not None:
        found = db_campaigns.get(conn, int(ref))
    if found is None:
        raise NotFound(f"No campaign {ref!r}.")
    return found


def get(db: Database, ref: str) -> Campaign:
    with db.read() as conn:
        return find(conn, ref)


def recent(db: Database, *, limit: int = 50, before_id: int | None = None,
           status: CampaignStatus | None = None) -> list[Campaign]:
    with db.read() as conn:
        return db_campaigns.recent(conn, limit=limit, before_id=before_id, status=status)
