"""Campaigns: write with a live preview, test, schedule, send after a confirmation,
follow the sending live, pause, resume, cancel, and read the results."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import escape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tidings.domain.campaigns import EDITABLE, BodyFormat, Campaign, CampaignStatus
from tidings.domain.errors import InvalidTransition, NotFound, ValidationError
from tidings.domain.timezones import utcnow
from tidings.domain.users import User
from tidings.services import (
    campaign_results,
    campaigns,
    lists,
    scheduling,
    segments,
    sending,
    templates,
)
from tidings.web.admin import charts
from tidings.web.admin.common import Reader, Sender, Writer, redirect, render, runtime

router = APIRouter()

# The message preview is untrusted HTML: no scripts, no requests out, shown only framed
# inside the admin by a sandboxed iframe.
PREVIEW_CSP = ("default-src 'none'; img-src data: https: http:; style-src 'unsafe-inline'; "
               "font-src data:; frame-ancestors 'self'; sandbox")
PREVIEW_HEADERS = {"Content-Security-Policy": PREVIEW_CSP, "X-Content-Type-Options": "nosniff",
                   "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _choices(request: Request) -> dict[str, Any]:
    db = runtime(request).db
    return {"lists": lists.all_lists(db), "segments": segments.all_segments(db),
            "templates": templates.all_templates(db), "formats": list(BodyFormat)}


def _fields(form: FormData) -> dict[str, Any]:
    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    return {
        "name": text("name"), "subject": text("subject"), "body": text("body"),
        "body_format": text("body_format") or "markdown",
        "from_name": text("from_name"), "from_email": text("from_email"),
        "reply_to": text("reply_to"),
        "lists": [v for v in form.getlist("lists") if isinstance(v, str)],
        "segment": text("segment"), "template": text("template"),
    }


def _ids(request: Request, fields: dict[str, Any]) -> tuple[int | None, int | None]:
    db = runtime(request).db
    template_id = templates.get(db, fields["template"]).id if fields["template"] else None
    segment_id = segments.get(db, fields["segment"]).id if fields["segment"] else None
    return template_id, segment_id


def _format(value: str) -> BodyFormat:
    try:
        return BodyFormat(value)
    except ValueError:
        raise ValidationError(f"Unknown body format {value!r}.", field="body_format") from None


@router.get("/admin/campaigns", response_class=HTMLResponse)
def index(request: Request, user: Reader, before: str = "") -> Response:
    db = runtime(request).db
    before_id = campaigns.get(db, before).id if before else None
    found = campaigns.recent(db, limit=50, before_id=before_id)
    return render(request, "admin/campaigns.html", {
        "campaigns": found, "describe": scheduling.describe,
        "more": found[-1].uid if len(found) == 50 else None}, section="campaigns")


@router.get("/admin/campaigns/new", response_class=HTMLResponse)
def new(request: Request, user: Writer) -> Response:
    values = {"name": "", "subject": "", "body": "", "body_format": "markdown", "lists": [],
              "segment": "", "template": "", "from_name": "", "from_email": "",
              "reply_to": ""}
    return render(request, "admin/campaign_edit.html",
                  {"c": None, "form": values, **_choices(request)}, section="campaigns")


@router.post("/admin/campaigns/new", response_class=HTMLResponse)
async def create(request: Request, user: Writer) -> Response:
    form = await request.form()
    return await run_in_threadpool(_create, request, user, form)


def _create(request: Request, user: User, form: FormData) -> Response:
    fields = _fields(form)
    try:
        template_id, segment_id = _ids(request, fields)
        created = campaigns.create(
            runtime(request).db, name=fields["name"], subject=fields["subject"],
            body=fields["body"], body_format=_format(fields["body_format"]),
            lists=fields["lists"], from_name=fields["from_name"],
            from_email=fields["from_email"], reply_to=fields["reply_to"],
            template_id=template_id, segment_id=segment_id, actor=user.label)
    except (ValidationError, NotFound) as exc:
        return render(request, "admin/campaign_edit.html",
                      {"c": None, "form": fields, "error": exc.message,
                       "problems": exc.details.get("problems", []), **_choices(request)},
                      status_code=422, section="campaigns")
    return redirect(request, f"/admin/campaigns/{created.uid}", "Draft saved.")


def _form_of(c: Campaign, request: Request) -> dict[str, Any]:
    db = runtime(request).db
    by_id = {m.id: m.slug for m in lists.all_lists(db)}
    segment = next((s.uid for s in segments.all_segments(db) if s.id == c.segment_id), "")
    template = next((t.uid for t in templates.all_templates(db) if t.id == c.template_id), "")
    return {"name": c.name, "subject": c.subject, "body": c.body,
            "body_format": str(c.body_format), "lists": [by_id.get(i) for i in c.list_ids],
            "segment": segment, "template": template, "from_name": c.from_name,
            "from_email": c.from_email, "reply_to": c.reply_to}


@router.get("/admin/campaigns/{uid}", response_class=HTMLResponse)
def show(request: Request, user: Reader, uid: str) -> Response:
    db = runtime(request).db
    c = campaigns.get(db, uid)
    if c.status in EDITABLE:
        return render(request, "admin/campaign_edit.html", {
            "c": c, "form": _form_of(c, request), "held": scheduling.held_since(c),
            "describe": scheduling.describe, **_choices(request)}, section="campaigns")
    return _results(request, c)


def _results(request: Request, c: Campaign) -> Response:
    db = runtime(request).db
    progress = sending.progress(db, c.uid)
    result = campaign_results.summary(db, c.id)
    return render(request, "admin/campaign_progress.html", {
        "c": c, "p": progress, "r": result,
        "chart": charts.line(result.per_minute, label="Messages accepted per minute"),
    }, section="campaigns")


@router.post("/admin/campaigns/{uid}", response_class=HTMLResponse)
async def update(request: Request, user: Writer, uid: str) -> Response:
    form = await request.form()
    return await run_in_threadpool(_update, request, user, uid, form)


def _update(request: Request, user: User, uid: str, form: FormData) -> Response:
    fields = _fields(form)
    db = runtime(request).db
    try:
        template_id, segment_id = _ids(request, fields)
        campaigns.update(db, uid, name=fields["name"], subject=fields["subject"],
                         body=fields["body"], body_format=_format(fields["body_format"]),
                         lists=fields["lists"], from_name=fields["from_name"],
                         from_email=fields["from_email"], reply_to=fields["reply_to"],
                         template_id=template_id, segment_id=segment_id, actor=user.label)
    except (ValidationError, NotFound) as exc:
        c = campaigns.get(db, uid)
        return render(request, "admin/campaign_edit.html",
                      {"c": c, "form": fields, "error": exc.message,
                       "problems": exc.details.get("problems", []),
                       "describe": scheduling.describe, **_choices(request)},
                      status_code=422, section="campaigns")
    return redirect(request, f"/admin/campaigns/{uid}", "Saved.")


def _message(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code, headers=PREVIEW_HEADERS)


def _problem_page(exc: ValidationError | NotFound) -> HTMLResponse:
    items = "".join(f"<li>line {escape(p['line'])}: {escape(p['message'])}</li>"
                    for p in exc.details.get("problems", []))
    return _message(f"<!doctype html><meta charset=utf-8><body style='font:15px system-ui;"
                    f"color:#b42318;padding:1rem'><p><strong>{escape(exc.message)}</strong>"
                    f"</p><ul>{items}</ul></body>", status_code=200)


@router.post("/admin/campaigns/{uid}/preview", response_class=HTMLResponse)
async def live_preview(request: Request, user: Writer, uid: str) -> Response:
    """The message as the form stands now (nothing saved), for the preview frame."""
    form = await request.form()
    return await run_in_threadpool(_live_preview, request, uid, form)


def _live_preview(request: Request, uid: str, form: FormData) -> Response:
    rt = runtime(request)
    fields = _fields(form)
    try:
        fmt = _format(fields["body_format"])
        subject, body = campaigns.check_content(fields["subject"], fields["body"], fmt)
        template_id, segment_id = _ids(request, fields)
        list_ids = tuple(m.id for m in lists.resolve(rt.db, fields["lists"]))
        base = campaigns.get(rt.db, uid) if uid != "new" else _blank()
        # A fresh updated_at: the text differs from what is saved, never reuse its build.
        draft = dataclasses.replace(base, subject=subject, body=body, body_format=fmt,
                                    from_name=fields["from_name"],
                                    from_email=fields["from_email"],
                                    reply_to=fields["reply_to"], list_ids=list_ids,
                                    template_id=template_id, segment_id=segment_id,
                                    updated_at=utcnow())
        preview = campaigns.preview_for(rt.db, draft, campaigns.PLACEHOLDER, site=rt.settings,
                                        tokens=rt.tokens)
    except (ValidationError, NotFound) as exc:
        return _problem_page(exc)
    return _message(preview.html)


def _blank() -> Campaign:
    now = utcnow()
    return Campaign(id=0, uid="preview-draft000", name="Preview", subject="Preview", body="",
                    body_format=BodyFormat.MARKDOWN, status=CampaignStatus.DRAFT,
                    created_at=now, updated_at=now)


@router.get("/admin/campaigns/{uid}/preview", response_class=HTMLResponse)
def saved_preview(request: Request, user: Reader, uid: str, to: str = "") -> Response:
    rt = runtime(request)
    try:
        preview = campaigns.preview(rt.db, uid, site=rt.settings, tokens=rt.tokens,
                                    subscriber=to or None)
    except ValidationError as exc:
        return _problem_page(exc)
    return _message(preview.html)


@router.post("/admin/campaigns/{uid}/test")
def send_test(request: Request, user: Sender, uid: str,
              addresses: Annotated[str, Form()]) -> Response:
    wanted = [a.strip() for a in addresses.replace(";", ",").replace("\n", ",").split(",")
              if a.strip()]
    try:
        sent = campaigns.send_test(runtime(request).db, uid, wanted, actor=user.label)
    except ValidationError as exc:
        return redirect(request, f"/admin/campaigns/{uid}", exc.message)
    return redirect(request, f"/admin/campaigns/{uid}",
                    f"Test queued for {len(sent)} address{'es' if len(sent) != 1 else ''}.")


@router.post("/admin/campaigns/{uid}/schedule")
def schedule(request: Request, user: Sender, uid: str, at: Annotated[str, Form()],
             timezone: Annotated[str, Form()] = "UTC") -> Response:
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return redirect(request, f"/admin/campaigns/{uid}", "Choose a date and time.")
    try:
        done = scheduling.schedule(runtime(request).db, uid, when.replace(tzinfo=None),
                                   timezone, actor=user.label)
    except (ValidationError, InvalidTransition) as exc:
        return redirect(request, f"/admin/campaigns/{uid}", exc.message)
    assert done.scheduled_at is not None
    return redirect(request, f"/admin/campaigns/{uid}",
                    f"Scheduled for {done.scheduled_at:%Y-%m-%d %H:%M} UTC.")


@router.post("/admin/campaigns/{uid}/unschedule")
def unschedule(request: Request, user: Sender, uid: str) -> Response:
    scheduling.unschedule(runtime(request).db, uid, actor=user.label)
    return redirect(request, f"/admin/campaigns/{uid}", "Back to draft.")


@router.get("/admin/campaigns/{uid}/send", response_class=HTMLResponse)
def confirm_send(request: Request, user: Sender, uid: str) -> Response:
    db = runtime(request).db
    c = campaigns.get(db, uid)
    by_id = {m.id: m for m in lists.all_lists(db)}
    return render(request, "admin/campaign_send.html", {
        "c": c, "audience": campaigns.audience_count(db, uid),
        "targets": [by_id[i] for i in c.list_ids if i in by_id],
        "segment": next((s for s in segments.all_segments(db) if s.id == c.segment_id), None),
    }, section="campaigns")


@router.post("/admin/campaigns/{uid}/send")
def start(request: Request, user: Sender, uid: str,
          confirm: Annotated[str, Form()] = "") -> Response:
    if confirm != "send":
        return redirect(request, f"/admin/campaigns/{uid}/send",
                        "Tick the confirmation to send.")
    started = scheduling.send_now(runtime(request).db, uid, actor=user.label)
    return redirect(request, f"/admin/campaigns/{uid}",
                    f"Sending to {started.total:,} readers.")


@router.post("/admin/campaigns/{uid}/pause")
def pause(request: Request, user: Sender, uid: str) -> Response:
    sending.pause(runtime(request).db, uid, actor=user.label)
    return redirect(request, f"/admin/campaigns/{uid}", "Paused.")


@router.post("/admin/campaigns/{uid}/resume")
def resume(request: Request, user: Sender, uid: str) -> Response:
    sending.resume(runtime(request).db, uid, actor=user.label)
    return redirect(request, f"/admin/campaigns/{uid}", "Resumed.")


@router.post("/admin/campaigns/{uid}/cancel")
def cancel(request: Request, user: Sender, uid: str) -> Response:
    sending.cancel(runtime(request).db, uid, actor=user.label)
    return redirect(request, f"/admin/campaigns/{uid}", "Cancelled: nothing more will be sent.")


@router.post("/admin/campaigns/{uid}/clone")
def clone(request: Request, user: Writer, uid: str) -> Response:
    copy = campaigns.clone(runtime(request).db, uid, actor=user.label)
    return redirect(request, f"/admin/campaigns/{copy.uid}", "Copied into a new draft.")


@router.post("/admin/campaigns/{uid}/delete")
def delete(request: Request, user: Writer, uid: str) -> Response:
    gone = campaigns.delete(runtime(request).db, uid, actor=user.label)
    return redirect(request, "/admin/campaigns", f"Deleted {gone.name}.")


@router.get("/admin/campaigns/{uid}/progress.json")
def progress(request: Request, user: Reader, uid: str) -> JSONResponse:
    """The live counters the progress page polls."""
    found = sending.progress(runtime(request).db, uid)
    data = found.as_dict()
    data["updated_at"] = found.updated_at.isoformat() if found.updated_at else None
    data["done"] = found.done
    data["handled"] = found.sent + found.failed + found.skipped
    return JSONResponse(data, headers={"Cache-Control": "no-store"})
