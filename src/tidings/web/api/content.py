"""``/api/v1/templates`` (layouts) and ``/api/v1/segments`` (saved filters)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from tidings.domain.segments import Segment
from tidings.domain.templates import Template
from tidings.services import segments, templates
from tidings.web.api.schemas import REF_PATTERN, Input, Page, Stamped
from tidings.web.api.security import Reader, Writer, runtime

router = APIRouter()
Ref = Annotated[str, Path(description="Public id.", pattern=REF_PATTERN)]


class TemplateOut(Stamped):
    id: str
    name: str
    body: str
    is_default: bool


class TemplateCreate(Input):
    name: str = Field(max_length=200)
    body: str = Field(description="HTML with `{{ content }}` where the campaign goes.")
    make_default: bool = False


class TemplatePatch(Input):
    name: str | None = Field(default=None, max_length=200)
    body: str | None = None


class SegmentOut(Stamped):
    id: str
    name: str
    filter: dict[str, Any]


class SegmentCreate(Input):
    name: str = Field(max_length=200)
    filter: dict[str, Any] = Field(description="The filter tree; see docs/editors.md.")


class SegmentPatch(Input):
    name: str | None = Field(default=None, max_length=200)
    filter: dict[str, Any] | None = None


class FilterIn(Input):
    filter: dict[str, Any]


class Count(BaseModel):
    count: int


def template_out(t: Template) -> TemplateOut:
    return TemplateOut(id=t.uid, name=t.name, body=t.body, is_default=t.is_default,
                       created_at=t.created_at, updated_at=t.updated_at)


def segment_out(s: Segment) -> SegmentOut:
    return SegmentOut(id=s.uid, name=s.name, filter=s.filter, created_at=s.created_at,
                      updated_at=s.updated_at)


@router.get("/templates", tags=["templates"], summary="Every layout")
def template_index(request: Request, key: Reader) -> Page[TemplateOut]:
    return Page(data=[template_out(t) for t in templates.all_templates(runtime(request).db)],
                next_cursor=None)


@router.post("/templates", status_code=201, tags=["templates"], summary="Create a layout")
def template_create(request: Request, key: Writer, body: TemplateCreate) -> TemplateOut:
    return template_out(templates.create(runtime(request).db, name=body.name, body=body.body,
                                         make_default=body.make_default, actor=key.label))


@router.get("/templates/{ref}", tags=["templates"], summary="One layout")
def template_show(request: Request, key: Reader, ref: Ref) -> TemplateOut:
    return template_out(templates.get(runtime(request).db, ref))


@router.patch("/templates/{ref}", tags=["templates"], summary="Change a layout")
def template_update(request: Request, key: Writer, ref: Ref,
                    body: TemplatePatch) -> TemplateOut:
    return template_out(templates.update(runtime(request).db, ref, name=body.name,
                                         body=body.body, actor=key.label))


@router.post("/templates/{ref}/default", tags=["templates"],
             summary="Make it the layout campaigns use unless they choose another")
def template_default(request: Request, key: Writer, ref: Ref) -> TemplateOut:
    return template_out(templates.set_default(runtime(request).db, ref, actor=key.label))


@router.delete("/templates/{ref}", status_code=204, tags=["templates"],
               summary="Delete a layout no campaign uses")
def template_delete(request: Request, key: Writer, ref: Ref) -> Response:
    templates.delete(runtime(request).db, ref, actor=key.label)
    return Response(status_code=204)


@router.get("/segments", tags=["segments"], summary="Every segment")
def segment_index(request: Request, key: Reader) -> Page[SegmentOut]:
    return Page(data=[segment_out(s) for s in segments.all_segments(runtime(request).db)],
                next_cursor=None)


@router.post("/segments", status_code=201, tags=["segments"], summary="Create a segment")
def segment_create(request: Request, key: Writer, body: SegmentCreate) -> SegmentOut:
    return segment_out(segments.create(runtime(request).db, name=body.name,
                                       filter=body.filter, actor=key.label))


@router.post("/segments/count", tags=["segments"],
             summary="How many subscribers a filter matches now")
def segment_count(request: Request, key: Reader, body: FilterIn) -> Count:
    return Count(count=segments.count(runtime(request).db, body.filter))


@router.get("/segments/{ref}", tags=["segments"], summary="One segment")
def segment_show(request: Request, key: Reader, ref: Ref) -> SegmentOut:
    return segment_out(segments.get(runtime(request).db, ref))


@router.patch("/segments/{ref}", tags=["segments"], summary="Rename or refilter a segment")
def segment_update(request: Request, key: Writer, ref: Ref, body: SegmentPatch) -> SegmentOut:
    return segment_out(segments.update(runtime(request).db, ref, name=body.name,
                                       filter=body.filter, actor=key.label))


@router.delete("/segments/{ref}", status_code=204, tags=["segments"],
               summary="Delete a segment no unfinished campaign uses")
def segment_delete(request: Request, key: Writer, ref: Ref) -> Response:
    segments.delete(runtime(request).db, ref, actor=key.label)
    return Response(status_code=204)
