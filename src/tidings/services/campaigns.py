"""Campaigns as editors write them: drafts, edits, clones, previews and test sends.

Sending (start, pause, resume, cancel, progress) is in :mod:`tidings.services.sending`;
scheduling (schedule, unschedule, held campaigns, the scheduler tick) in
:mod:`tidings.services.scheduling`. Every change here is allowed only in the states
:data:`tidings.domain.campaigns.EDITABLE` (draft and scheduled); a running,
paused, finished or cancelled campaign is refused with :class:`InvalidTransition`
and left as it was.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import Connection

from tidings.db import audience, events, mailing
from tidings.db import campaigns as db_campaigns
from tidings.db import segments as db_segments
from tidings.db import subscriptions as db_subscriptions
from tidings.db import templates as db_templates
from tidings.db.database import Database
from tidings.domain import campaigns as domain
from tidings.domain import emails
from tidings.domain.campaigns import BodyFormat, Campaign, CampaignStatus
from tidings.domain.errors import InvalidTransition, NotFound, ValidationError
from tidings.domain.ids import as_internal_id, looks_like_uid, new_uid, plausible_ref
from tidings.domain.lists import check_name
from tidings.domain.subscribers import check_name as check_display_name
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.mail import content
from tidings.mail import templates as sandbox
from tidings.mail.campaign import CompiledCampaign, Preview, compile_campaign
from tidings.mail.context import Recipient, Sender
from tidings.mail.tokens import TokenSigner
from tidings.services import outbox, runtime_settings
from tidings.services import subscribers as subscriber_service
from tidings.services import templates as template_service
from tidings.services.lists import find as find_list

MAX_TEST_ADDRESSES = 10
COMPILED_SECONDS = 300.0
COMPILED_KEPT = 32
_COMPILED = "campaigns.compiled"
#: The reader of previews without a subscriber, and of the public archive.
PLACEHOLDER = Recipient(subscriber_id=0, uid="", email="reader@example.com", name="Reader")


class Keep(Enum):
    """The value of an :func:`update` argument that stays as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


class Site(Protocol):
    """The bootstrap values messages need (``tidings.config.Settings`` has them)."""

    @property
    def base_url(self) -> str: ...

    @property
    def mail_domain(self) -> str: ...


def check_content(subject: str, body: str, body_format: BodyFormat) -> tuple[str, str]:
    """Check the subject and body as templates; problems name their line."""
    subject = domain.check_subject(subject)
    body = domain.check_body(body)
    for field, source, kind in (("subject", subject, sandbox.Kind.SUBJECT),
                                ("body", content.to_html(body, body_format), sandbox.Kind.BODY)):
        problems = sandbox.validate(source, kind=kind)
        if problems:
            listed = "; ".join(f"line {p.line}: {p.message}" for p in problems)
            raise ValidationError(f"The {field} cannot be used: {listed}", field=field,
                                  problems=[{"line": p.line, "message": p.message}
                                            for p in problems])
    return subject, body


def create(db: Database, *, name: str, subject: str, body: str,
           body_format: BodyFormat = BodyFormat.MARKDOWN, lists: Sequence[str] = (),
           from_name: str = "", from_email: str = "", reply_to: str = "",
           template_id: int | None = None, segment_id: int | None = None,
           actor: str | None = None, extra: dict[str, object] | None = None) -> Campaign:
    """Create a draft; raise :class:`ValidationError` or :class:`NotFound` (list, template,
    segment). Without ``template_id`` the default template is used."""
    body_format = BodyFormat(body_format)
    subject, body = check_content(subject, body, body_format)
    values: dict[str, Any] = {
        "uid": new_uid(),
        "name": check_name(name),
        "subject": subject,
        "body": body,
        "body_format": str(body_format),
        "from_name": check_display_name(from_name),
        "from_email": emails.normalize(from_email) if from_email else "",
        "reply_to": emails.normalize(reply_to) if reply_to else "",
        "segment_id": segment_id,
        "status": str(CampaignStatus.DRAFT),
        "extra": dict(extra or {}),
    }
    now = utcnow()
    with db.write() as conn:
        targets = list(dict.fromkeys(find_list(conn, item).id for item in lists))
        _check_targets(conn, targets, segment_id)
        values["template_id"] = layout_id(conn, template_id)
        created = db_campaigns.insert_campaign(conn, values, targets, now)
        events.record(conn, "campaign.created", now, actor=actor, subject_type="campaign",
                      subject_id=created.id)
    return created


def _check_targets(conn: Connection, list_ids: Sequence[int], segment_id: int | None) -> None:
    if not list_ids and segment_id is None:
        raise ValidationError("A campaign needs at least one list or a segment.",
                              field="lists")
    if segment_id is not None and db_segments.get(conn, segment_id) is None:
        raise NotFound(f"No segment {segment_id}.")


def layout_id(conn: Connection, template_id: int | None) -> int:
    """``template_id`` if that template exists (else :class:`NotFound`); None: the default."""
    if template_id is None:
        return template_service.ensure_default(conn).id
    if db_templates.get(conn, template_id) is None:
        raise NotFound(f"No template {template_id}.")
    return template_id


def update(db: Database, ref: str, *, name: str | Keep = KEEP, subject: str | Keep = KEEP,
           body: str | Keep = KEEP, body_format: BodyFormat | Keep = KEEP,
           from_name: str | Keep = KEEP, from_email: str | Keep = KEEP,
           reply_to: str | Keep = KEEP, template_id: int | Keep | None = KEEP,
           segment_id: int | Keep | None = KEEP, lists: Sequence[str] | Keep = KEEP,
           actor: str | None = None) -> Campaign:
    """Change a draft or scheduled campaign; arguments left at :data:`KEEP` stay.

    ``template_id=None`` chooses the default template, ``segment_id=None`` removes the
    segment, ``lists=[]`` removes every list (the campaign then needs a segment).
    """
    now = utcnow()
    with db.write() as conn:
        current = find(conn, ref)
        _check_editable(current)
        values: dict[str, Any] = {}
        if not isinstance(name, Keep):
            values["name"] = check_name(name)
        new_format = current.body_format if isinstance(body_format, Keep) \
            else BodyFormat(body_format)
        if not (isinstance(subject, Keep) and isinstance(body, Keep)
                and isinstance(body_format, Keep)):
            values["subject"], values["body"] = check_content(
                current.subject if isinstance(subject, Keep) else subject,
                current.body if isinstance(body, Keep) else body, new_format)
            values["body_format"] = str(new_format)
        if not isinstance(from_name, Keep):
            values["from_name"] = check_display_name(from_name)
        if not isinstance(from_email, Keep):
            values["from_email"] = emails.normalize(from_email) if from_email else ""
        if not isinstance(reply_to, Keep):
            values["reply_to"] = emails.normalize(reply_to) if reply_to else ""
        if not isinstance(template_id, Keep):
            values["template_id"] = layout_id(conn, template_id)
        if not isinstance(segment_id, Keep):
            values["segment_id"] = segment_id
        list_ids = list(current.list_ids) if isinstance(lists, Keep) else \
            list(dict.fromkeys(find_list(conn, item).id for item in lists))
        _check_targets(conn, list_ids, values.get("segment_id", current.segment_id))
        if not isinstance(lists, Keep):
            db_campaigns.set_lists(conn, current.id, list_ids)
        changed = db_campaigns.update_campaign(conn, current.id, now, **values)
        events.record(conn, "campaign.updated", now, actor=actor, subject_type="campaign",
                      subject_id=current.id,
                      data={"keys": sorted([*values, *([] if isinstance(lists, Keep)
                                                       else ["lists"])])})
    return changed


def _check_editable(campaign: Campaign) -> None:
    if campaign.status not in domain.EDITABLE:
        raise InvalidTransition(f"A {campaign.status} campaign cannot be changed; clone it "
                                "to write a new one.", current=str(campaign.status))


def clone(db: Database, ref: str, *, name: str | None = None,
          actor: str | None = None) -> Campaign:
    """A new draft with the content, sender, template, lists and segment of ``ref``."""
    now = utcnow()
    with db.write() as conn:
        source = find(conn, ref)
        template_id = source.template_id
        if template_id is None or db_templates.get(conn, template_id) is None:
            template_id = template_service.ensure_default(conn).id
        segment_id = source.segment_id
        if segment_id is not None and db_segments.get(conn, segment_id) is None:
            segment_id = None
        if not source.list_ids and segment_id is None:
            raise ValidationError("The campaign's segment was deleted and it has no lists; "
                                  "there is nobody to send a copy to.", field="lists")
        values: dict[str, Any] = {
            "uid": new_uid(),
            "name": check_name(name if name is not None else f"Copy of {source.name}"[:200]),
            "subject": source.subject, "body": source.body,
            "body_format": str(source.body_format), "from_name": source.from_name,
            "from_email": source.from_email, "reply_to": source.reply_to,
            "template_id": template_id, "segment_id": segment_id,
            "status": str(CampaignStatus.DRAFT),
            "extra": {k: v for k, v in source.extra.items() if k == "preheader"},
        }
        created = db_campaigns.insert_campaign(conn, values, source.list_ids, now)
        events.record(conn, "campaign.cloned", now, actor=actor, subject_type="campaign",
                      subject_id=created.id, data={"from": source.uid})
    return created


def delete(db: Database, ref: str, *, actor: str | None = None) -> Campaign:
    """Delete a draft. Anything else is refused (cancel a scheduled one first)."""
    now = utcnow()
    with db.write() as conn:
        found = find(conn, ref)
        if found.status is not CampaignStatus.DRAFT:
            raise InvalidTransition(f"Only drafts can be deleted; this campaign is "
                                    f"{found.status}.", current=str(found.status))
        db_campaigns.delete_campaign(conn, found.id)
        events.record(conn, "campaign.deleted", now, actor=actor, subject_type="campaign",
                      subject_id=found.id, data={"name": found.name})
    return found


def send_test(db: Database, ref: str, addresses: Sequence[str], *,
              actor: str | None = None) -> list[int]:
    """Queue a test of the campaign to each address (at most ten); return the outbox ids.

    The message is the campaign as the subscriber with that address would get it
    (or as an anonymous reader), with ``[Test]`` before the subject.
    """
    clean = list(dict.fromkeys(emails.normalize(a) for a in addresses))
    if not clean:
        raise ValidationError("Give at least one address for the test.", field="addresses")
    if len(clean) > MAX_TEST_ADDRESSES:
        raise ValidationError(f"A test goes to at most {MAX_TEST_ADDRESSES} addresses.",
                              field="addresses")
    now = utcnow()
    with db.write() as conn:
        campaign = find(conn, ref)
        ids = [outbox.enqueue(conn, kind="test", to_email=address,
                              payload={"campaign_id": campaign.id}, now=now)
               for address in clean]
        events.record(conn, "campaign.tested", now, actor=actor, subject_type="campaign",
                      subject_id=campaign.id, data={"addresses": len(clean)})
    return ids


def preview(db: Database, ref: str, *, site: Site, tokens: TokenSigner,
            subscriber: str | None = None) -> Preview:
    """The message ``subscriber`` (address, id) would receive, as HTML, text and headers.

    It is built exactly as the sending engine builds it, so it equals what the relay
    gets (apart from the Date header, the MIME boundary and the DKIM signature).
    Without ``subscriber`` a placeholder reader, "Reader" <reader@example.com>, is used.
    """
    with db.read() as conn:
        campaign = find(conn, ref)
        recipient = PLACEHOLDER
        if subscriber is not None:
            found = subscriber_service.find(conn, subscriber)
            confirmed = {lid for lid, sub in db_subscriptions.for_subscriber(conn, found.id)
                         .items() if sub.status is SubscriptionStatus.CONFIRMED}
            recipient = Recipient.from_subscriber(
                found, tuple(lid for lid in campaign.list_ids if lid in confirmed))
    return preview_for(db, campaign, recipient, site=site, tokens=tokens)


def preview_for(db: Database, campaign: Campaign, recipient: Recipient, *, site: Site,
                tokens: TokenSigner) -> Preview:
    """:meth:`CompiledCampaign.preview` of ``campaign`` for ``recipient``.

    The compiled campaign is kept (per process, a few minutes) for as long as nothing
    it was built from changes: the campaign's content and sender, its lists and layout,
    the runtime settings. Switching between readers in a preview then costs a render,
    not a compilation. ``campaign`` need not be saved (a live preview of a form).
    """
    values = runtime_settings.get_all(db)
    with db.read() as conn:
        lists = mailing.lists_in_order(conn, campaign.list_ids)
        layout = mailing.layout(conn, campaign.template_id)
    key = (campaign.id, campaign.uid, campaign.name, campaign.subject, campaign.body,
           str(campaign.body_format), campaign.from_name, campaign.from_email,
           campaign.reply_to, campaign.archive, campaign.archive_slug,
           json.dumps(campaign.extra, sort_keys=True, default=str),
           tuple((m.id, m.updated_at) for m in lists), layout,
           json.dumps(values, sort_keys=True, default=str), site.base_url,
           site.mail_domain, id(tokens))
    cache: dict[tuple[Any, ...], tuple[float, CompiledCampaign, threading.Lock]] = \
        db.cache.setdefault(_COMPILED, {})
    entry = cache.get(key)
    if entry is None or time.monotonic() - entry[0] > COMPILED_SECONDS:
        built = compile_campaign(campaign, lists, layout=layout,
                                 sender=Sender.from_settings(site, values), tokens=tokens,
                                 dkim=None)
        entry = (time.monotonic(), built, threading.Lock())
        if len(cache) >= COMPILED_KEPT:
            cache.clear()
        cache[key] = entry
    with entry[2]:  # a compiled campaign keeps caches of its own: one reader at a time
        return entry[1].preview(recipient)


def audience_count(db: Database, ref: str) -> int:
    """How many readers the campaign would reach if it started now."""
    with db.read() as conn:
        campaign = find(conn, ref)
        if campaign.status in domain.ACTIVE or campaign.status in domain.FINAL:
            return campaign.total
        return audience.campaign_count(conn, campaign, None)


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
