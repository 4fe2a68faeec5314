"""``/api/v1/campaigns``: write, test, schedule, send and follow campaigns.

Editing is PATCH: fields left out stay as they are. Sending needs the ``send``
permission; writing drafts the ``write`` permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, field_validator

from tidings.bootstrap import Runtime
from tidings.domain.campaigns import BodyFormat, Campaign, CampaignStatus
from tidings.services import (
    campaign_results,
    campaigns,
    directory,
    lists,
    scheduling,
    segments,
    sending,
    templates,
)
from tidings.web.api.schemas import REF_PATTERN, Input, Page, Stamped
from tidings.web.api.security import Reader, Sender, Writer, runtime

router = APIRouter(tags=["campaigns"])
Ref = Annotated[str, Path(description="Public id of the campaign.", pattern=REF_PATTERN)]


class CampaignOut(Stamped):
    id: str
    name: str
    subject: str
    body: str
    body_format: BodyFormat
    status: CampaignStatus
    held: bool = Field(description="Scheduled, but its time passed while Tidings was down: "
                                   "waiting for a decision.")
    lists: list[str] = Field(description="Slugs of the target lists.")
    segment: str | None = Field(description="Public id of the segment, if any.")
    template: str | None = Field(description="Public id of the layout.")
    from_name: str
    from_email: str
    reply_to: str
    scheduled_at: datetime | None
    timezone: str
    started_at: datetime | None
    finished_at: datetime | None
    total: int
    sent: int
    failed: int


class CampaignCreate(Input):
    name: str = Field(max_length=200)
    subject: str = Field(max_length=998)
    body: str
    body_format: BodyFormat = BodyFormat.MARKDOWN
    lists: list[str] = Field(default_factory=list, max_length=100)
    segment: str | None = Field(default=None, max_length=64)
    template: str | None = Field(default=None, max_length=64)
    from_name: str = Field(default="", max_length=200)
    from_email: str = Field(default="", max_length=320)
    reply_to: str = Field(default="", max_length=320)


class CampaignPatch(Input):
    name: str | None = Field(default=None, max_length=200)
    subject: str | None = Field(default=None, max_length=998)
    body: str | None = None
    body_format: BodyFormat | None = None
    lists: list[str] | None = Field(default=None, max_length=100)
    segment: str | None = Field(default=None, max_length=64,
                                description="A segment's id; an empty string removes it.")
    template: str | None = Field(default=None, max_length=64)
    from_name: str | None = Field(default=None, max_length=200)
    from_email: str | None = Field(default=None, max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)


class TestSend(Input):
    addresses: list[str] = Field(min_length=1, max_length=campaigns.MAX_TEST_ADDRESSES)


class ScheduleIn(Input):
    at: datetime = Field(description="Wall-clock time in `timezone` (an offset, if given, "
                                     "is honoured instead).")
    timezone: str = Field(default="UTC", max_length=64, examples=["Europe/Berlin"])

    @field_validator("at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if not 2000 <= value.year <= 2999:
            raise ValueError("must be a date between the years 2000 and 2999")
        return value


class RelayStatus(BaseModel):
    relay: str = Field(description="The relay, as scheme://host:port.")
    error: str | None = Field(description="Its last failure since it last accepted a message.")
    error_at: float | None = Field(description="When, in Unix time.")
    backing_off: float = Field(description="Seconds until it is tried again; 0: not waiting.")


class Stats(BaseModel):
    id: str
    status: CampaignStatus
    total: int
    sent: int
    failed: int
    skipped: int
    remaining: int
    rate: float = Field(description="Messages per second lately.")
    eta: float | None = Field(description="Seconds until done at that rate.")
    error: str | None = Field(description="Why the worker paused the campaign, if it did.")
    state: str | None = Field(description="The worker's: sending, backing off (every relay "
                                          "is), error, finished, stopped.")
    relays: list[RelayStatus] = Field(description="Relays in trouble while sending.")
    outcomes: dict[str, int] = Field(description="Deliveries per ledger status.")


class PreviewOut(BaseModel):
    html: str
    text: str
    headers: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Names:
    """Public names of lists, segments and layouts, looked up once per request."""

    lists: dict[int, str]
    segments: dict[int, str]
    templates: dict[int, str]

    @classmethod
    def of(cls, rt: Runtime) -> Names:
        return cls(lists={m.id: m.slug for m in lists.all_lists(rt.db)},
                   segments={s.id: s.uid for s in segments.all_segments(rt.db)},
                   templates={t.id: t.uid for t in templates.all_templates(rt.db)})


def out(rt: Runtime, c: Campaign, names: Names | None = None) -> CampaignOut:
    names = names or Names.of(rt)
    return CampaignOut(
        id=c.uid, name=c.name, subject=c.subject, body=c.body, body_format=c.body_format,
        status=c.status, held=scheduling.held_since(c) is not None,
        lists=[names.lists[i] for i in c.list_ids if i in names.lists],
        segment=names.segments.get(c.segment_id) if c.segment_id is not None else None,
        template=names.templates.get(c.template_id) if c.template_id is not None else None,
        from_name=c.from_name, from_email=c.from_email,
        reply_to=c.reply_to, scheduled_at=c.scheduled_at, timezone=c.timezone,
        started_at=c.started_at, finished_at=c.finished_at, total=c.total, sent=c.sent,
        failed=c.failed, created_at=c.created_at, updated_at=c.updated_at)


def _segment_id(rt: Runtime, ref: str | None) -> int | None:
    return segments.get(rt.db, ref).id if ref else None


def _template_id(rt: Runtime, ref: str | None) -> int | None:
    return templates.get(rt.db, ref).id if ref else None


@router.get("/campaigns", summary="Campaigns, newest first")
def index(request: Request, key: Reader,
          status: CampaignStatus | None = None,
          cursor: Annotated[str | None, Query(max_length=64)] = None,
          limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[CampaignOut]:
    rt = runtime(request)
    before = directory.decode_cursor(cursor, "c") if cursor else None
    found = campaigns.recent(rt.db, limit=limit + 1, before_id=before, status=status)
    more = len(found) > limit
    found = found[:limit]
    names = Names.of(rt)
    return Page(data=[out(rt, c, names) for c in found],
                next_cursor=directory.encode_cursor(found[-1].id, "c") if more else None)


@router.post("/campaigns", status_code=201, summary="Create a draft")
def create(request: Request, key: Writer, body: CampaignCreate) -> CampaignOut:
    rt = runtime(request)
    created = campaigns.create(
        rt.db, name=body.name, subject=body.subject, body=body.body,
        body_format=body.body_format, lists=body.lists, from_name=body.from_name,
        from_email=body.from_email, reply_to=body.reply_to,
        template_id=_template_id(rt, body.template), segment_id=_segment_id(rt, body.segment),
        actor=key.label)
    return out(rt, created)


@router.get("/campaigns/{ref}", summary="One campaign")
def show(request: Request, key: Reader, ref: Ref) -> CampaignOut:
    rt = runtime(request)
    return out(rt, campaigns.get(rt.db, ref))


@router.patch("/campaigns/{ref}", summary="Change a draft or scheduled campaign")
def update(request: Request, key: Writer, ref: Ref, body: CampaignPatch) -> CampaignOut:
    rt = runtime(request)
    given = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {k: v for k, v in given.items()
                               if k not in ("segment", "template") and v is not None}
    if "segment" in given:
        changes["segment_id"] = _segment_id(rt, given["segment"])
    if given.get("template"):
        changes["template_id"] = _template_id(rt, given["template"])
    changed = campaigns.update(rt.db, ref, actor=key.label, **changes)
    return out(rt, changed)


@router.delete("/campaigns/{ref}", status_code=204, summary="Delete a draft")
def delete(request: Request, key: Writer, ref: Ref) -> Response:
    campaigns.delete(runtime(request).db, ref, actor=key.label)
    return Response(status_code=204)


@router.post("/campaigns/{ref}/clone", status_code=201, summary="Copy into a new draft")
def clone(request: Request, key: Writer, ref: Ref) -> CampaignOut:
    rt = runtime(request)
    return out(rt, campaigns.clone(rt.db, ref, actor=key.label))


@router.get("/campaigns/{ref}/preview", summary="The message as a subscriber would get it")
def preview(request: Request, key: Reader, ref: Ref,
            subscriber: Annotated[str | None, Query(pattern=REF_PATTERN)] = None
            ) -> PreviewOut:
    rt = runtime(request)
    shown = campaigns.preview(rt.db, ref, site=rt.settings, tokens=rt.tokens,
                              subscriber=subscriber)
    return PreviewOut(html=shown.html, text=shown.text, headers=shown.headers)


@router.post("/campaigns/{ref}/test", status_code=202, summary="Send a test to a few addresses")
def test(request: Request, key: Sender, ref: Ref, body: TestSend) -> dict[str, int]:
    queued = campaigns.send_test(runtime(request).db, ref, body.addresses, actor=key.label)
    return {"queued": len(queued)}


@router.post("/campaigns/{ref}/schedule", summary="Schedule (or reschedule) the sending")
def schedule(request: Request, key: Sender, ref: Ref, body: ScheduleIn) -> CampaignOut:
    rt = runtime(request)
    return out(rt, scheduling.schedule(rt.db, ref, body.at, body.timezone, actor=key.label))


@router.post("/campaigns/{ref}/unschedule", summary="Back to draft")
def unschedule(request: Request, key: Sender, ref: Ref) -> CampaignOut:
    rt = runtime(request)
    return out(rt, scheduling.unschedule(rt.db, ref, actor=key.label))


@router.post("/campaigns/{ref}/send", summary="Start sending now")
def send(request: Request, key: Sender, ref: Ref) -> CampaignOut:
    rt = runtime(request)
    return out(rt, scheduling.send_now(rt.db, ref, actor=key.label))


@router.post("/campaigns/{ref}/pause", summary="Pause a running campaign")
def pause(request: Request, key: Sender, ref: Ref) -> CampaignOut:
    rt = runtime(request)
    return out(rt, sending.pause(rt.db, ref, actor=key.label))


@router.post("/campaigns/{ref}/resume", summary="Resume a paused campaign")
def resume(request: Request, key: Sender, ref: Ref) -> CampaignOut:
    rt = runtime(request)
    return out(rt, sending.resume(rt.db, ref, actor=key.label))


@router.post("/campaigns/{ref}/cancel", summary="Stop for good (what was sent stays sent)")
def cancel(request: Request, key: Sender, ref: Ref) -> CampaignOut:
    rt = runtime(request)
    return out(rt, sending.cancel(rt.db, ref, actor=key.label))


@router.get("/campaigns/{ref}/stats", summary="Progress and outcomes of the sending")
def stats(request: Request, key: Reader, ref: Ref) -> Stats:
    db = runtime(request).db
    found = campaigns.get(db, ref)
    progress = sending.progress(db, ref)
    return Stats(id=found.uid, status=progress.status, total=progress.total,
                 sent=progress.sent, failed=progress.failed, skipped=progress.skipped,
                 remaining=progress.remaining, rate=round(progress.rate, 1),
                 eta=progress.eta, error=progress.error, state=progress.state,
                 relays=[RelayStatus.model_validate(r) for r in progress.relays],
                 outcomes=campaign_results.summary(db, found.id).outcomes)
