"""``/api/v1/lists``: mailing lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from tidings.domain.lists import MailingList, OptIn, Visibility
from tidings.services import lists, stats
from tidings.web.api.schemas import REF_PATTERN, Input, Page, Stamped
from tidings.web.api.security import Reader, Writer, runtime

router = APIRouter(tags=["lists"])
Ref = Annotated[str, Path(description="Slug or id of the list.", pattern=REF_PATTERN)]


class Members(BaseModel):
    confirmed: int = 0
    unconfirmed: int = 0
    unsubscribed: int = 0


class ListOut(Stamped):
    id: str = Field(description="Public id.")
    slug: str
    name: str
    description: str
    visibility: Visibility
    optin: OptIn
    members: Members = Field(description="Subscriptions per status (may be up to a "
                                         "minute old on large installations).")


class ListCreate(Input):
    slug: str = Field(max_length=64, examples=["daily"])
    name: str = Field(max_length=200, examples=["The Daily Brief"])
    description: str = Field(default="", max_length=2000)
    visibility: Visibility = Visibility.PUBLIC
    optin: OptIn = OptIn.DOUBLE


class ListPatch(Input):
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    visibility: Visibility | None = None
    optin: OptIn | None = None


def out(item: MailingList, counts: dict[str, int]) -> ListOut:
    return ListOut(id=item.uid, slug=item.slug, name=item.name, description=item.description,
                   visibility=item.visibility, optin=item.optin, created_at=item.created_at,
                   updated_at=item.updated_at, members=Members(**counts))


@router.get("/lists", summary="All lists with their member counts")
def index(request: Request, key: Reader) -> Page[ListOut]:
    db = runtime(request).db
    counts = stats.list_members(db).value
    return Page(data=[out(m, counts.get(m.id, {})) for m in lists.all_lists(db)],
                next_cursor=None)


@router.post("/lists", status_code=201, summary="Create a list")
def create(request: Request, key: Writer, body: ListCreate) -> ListOut:
    db = runtime(request).db
    created = lists.create(db, slug=body.slug, name=body.name, description=body.description,
                           visibility=body.visibility, optin=body.optin, actor=key.label)
    stats.forget(db)
    return out(created, {})


@router.get("/lists/{ref}", summary="One list")
def show(request: Request, key: Reader, ref: Ref) -> ListOut:
    db = runtime(request).db
    found = lists.get(db, ref)
    return out(found, stats.list_members(db).value.get(found.id, {}))


@router.patch("/lists/{ref}", summary="Change a list (only the fields given)")
def update(request: Request, key: Writer, ref: Ref, body: ListPatch) -> ListOut:
    db = runtime(request).db
    changed = lists.update(db, ref, name=body.name, description=body.description,
                           visibility=body.visibility, optin=body.optin, actor=key.label)
    return out(changed, stats.list_members(db).value.get(changed.id, {}))


@router.delete("/lists/{ref}", status_code=204, summary="Delete a list and its subscriptions")
def delete(request: Request, key: Writer, ref: Ref) -> Response:
    db = runtime(request).db
    lists.delete(db, ref, actor=key.label)
    stats.forget(db)
    return Response(status_code=204)
