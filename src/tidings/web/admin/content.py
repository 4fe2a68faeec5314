"""Layouts (email templates) and segments (saved filters over subscribers)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tidings.domain.errors import Conflict, ValidationError
from tidings.services import segments, templates
from tidings.web.admin.common import Reader, Writer, redirect, render, runtime

router = APIRouter()

SEGMENT_EXAMPLE = json.dumps({"all": [
    {"field": "list", "op": "confirmed", "value": "daily"},
    {"field": "attributes.city", "op": "eq", "value": "Oslo"}]}, indent=2)


@router.get("/admin/templates", response_class=HTMLResponse)
def layouts(request: Request, user: Reader) -> Response:
    return render(request, "admin/templates.html",
                  {"templates": templates.all_templates(runtime(request).db)},
                  section="templates")


@router.get("/admin/templates/new", response_class=HTMLResponse)
def new_layout(request: Request, user: Writer) -> Response:
    default = next((t for t in templates.all_templates(runtime(request).db) if t.is_default),
                   None)
    return render(request, "admin/template_edit.html",
                  {"t": None, "form": {"name": "", "body": default.body if default else ""}},
                  section="templates")


@router.post("/admin/templates/new", response_class=HTMLResponse)
def create_layout(request: Request, user: Writer, name: Annotated[str, Form()],
                  body: Annotated[str, Form()],
                  make_default: Annotated[str, Form()] = "") -> Response:
    try:
        created = templates.create(runtime(request).db, name=name, body=body,
                                   make_default=make_default == "yes", actor=user.label)
    except ValidationError as exc:
        return render(request, "admin/template_edit.html",
                      {"t": None, "form": {"name": name, "body": body}, "error": exc.message},
                      status_code=422, section="templates")
    return redirect(request, f"/admin/templates/{created.uid}", "Layout saved.")


@router.get("/admin/templates/{uid}", response_class=HTMLResponse)
def edit_layout(request: Request, user: Reader, uid: str) -> Response:
    found = templates.get(runtime(request).db, uid)
    return render(request, "admin/template_edit.html",
                  {"t": found, "form": {"name": found.name, "body": found.body}},
                  section="templates")


@router.post("/admin/templates/{uid}", response_class=HTMLResponse)
def update_layout(request: Request, user: Writer, uid: str, name: Annotated[str, Form()],
                  body: Annotated[str, Form()]) -> Response:
    db = runtime(request).db
    try:
        templates.update(db, uid, name=name, body=body, actor=user.label)
    except ValidationError as exc:
        return render(request, "admin/template_edit.html",
                      {"t": templates.get(db, uid), "form": {"name": name, "body": body},
                       "error": exc.message}, status_code=422, section="templates")
    return redirect(request, f"/admin/templates/{uid}", "Layout saved.")


@router.post("/admin/templates/{uid}/default")
def make_default(request: Request, user: Writer, uid: str) -> Response:
    found = templates.set_default(runtime(request).db, uid, actor=user.label)
    return redirect(request, "/admin/templates", f"{found.name} is the default layout now.")


@router.post("/admin/templates/{uid}/delete")
def delete_layout(request: Request, user: Writer, uid: str) -> Response:
    try:
        found = templates.delete(runtime(request).db, uid, actor=user.label)
    except Conflict as exc:
        return redirect(request, f"/admin/templates/{uid}", exc.message)
    return redirect(request, "/admin/templates", f"Deleted {found.name}.")


@router.get("/admin/segments", response_class=HTMLResponse)
def segment_index(request: Request, user: Reader) -> Response:
    return render(request, "admin/segments.html",
                  {"segments": segments.all_segments(runtime(request).db)},
                  section="segments")


def _segment_page(request: Request, segment_uid: str | None, name: str, text: str, *,
                  error: str | None = None, count: int | None = None) -> HTMLResponse:
    found = segments.get(runtime(request).db, segment_uid) if segment_uid else None
    return render(request, "admin/segment_edit.html", {
        "s": found, "form": {"name": name, "filter": text}, "error": error,
        "count": count}, status_code=422 if error else 200, section="segments")


@router.get("/admin/segments/new", response_class=HTMLResponse)
def new_segment(request: Request, user: Writer) -> Response:
    return _segment_page(request, None, "", SEGMENT_EXAMPLE)


@router.get("/admin/segments/{uid}", response_class=HTMLResponse)
def edit_segment(request: Request, user: Reader, uid: str) -> Response:
    found = segments.get(runtime(request).db, uid)
    return _segment_page(request, uid, found.name, json.dumps(found.filter, indent=2))


@router.post("/admin/segments/{uid}", response_class=HTMLResponse)
def save_segment(request: Request, user: Writer, uid: str, name: Annotated[str, Form()],
                 filter: Annotated[str, Form()],
                 action: Annotated[str, Form()] = "save") -> Response:
    db = runtime(request).db
    target = None if uid == "new" else uid
    try:
        parsed = json.loads(filter)
    except json.JSONDecodeError as exc:
        return _segment_page(request, target, name, filter,
                             error=f"The filter is not valid JSON: {exc.msg} (line {exc.lineno}).")
    try:
        if action == "count":
            return _segment_page(request, target, name, filter,
                                 count=segments.count(db, parsed))
        if target is None:
            created = segments.create(db, name=name, filter=parsed, actor=user.label)
            return redirect(request, f"/admin/segments/{created.uid}", "Segment saved.")
        segments.update(db, target, name=name, filter=parsed, actor=user.label)
    except (ValidationError, Conflict) as exc:
        return _segment_page(request, target, name, filter, error=exc.message)
    return redirect(request, f"/admin/segments/{target}", "Segment saved.")


@router.post("/admin/segments/{uid}/delete")
def delete_segment(request: Request, user: Writer, uid: str) -> Response:
    try:
        found = segments.delete(runtime(request).db, uid, actor=user.label)
    except Conflict as exc:
        return redirect(request, f"/admin/segments/{uid}", exc.message)
    return redirect(request, "/admin/segments", f"Deleted {found.name}.")
