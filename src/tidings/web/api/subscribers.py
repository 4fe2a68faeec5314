"""``/api/v1/subscribers``: subscribers and their subscriptions.

Changes are partial (PATCH): a field left out stays as it is. Subscriptions are never
part of a subscriber's PATCH; they change only through
``/subscribers/{ref}/subscriptions/{list}``, so reading a subscriber and writing it
back can never end a subscription by accident.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from tidings.domain.lists import MailingList
from tidings.domain.subscribers import Subscriber, SubscriberStatus
from tidings.domain.subscriptions import Subscription, SubscriptionStatus
from tidings.services import (
    directory,
    imports,
    lists,
    memberships,
    stats,
    subscribers,
)
from tidings.web.api.schemas import REF_PATTERN, Input, Page, Stamped
from tidings.web.api.security import Reader, Writer, runtime

router = APIRouter(tags=["subscribers"])
Ref = Annotated[str, Path(description="Public id or email address of the subscriber.",
                          pattern=REF_PATTERN)]
ListRef = Annotated[str, Path(description="Slug or id of the list.", pattern=REF_PATTERN)]
MAX_BULK = 10_000


class SubscriptionOut(BaseModel):
    list: str = Field(description="Slug of the list.")
    list_id: str = Field(description="Public id of the list.")
    status: SubscriptionStatus
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None


class SubscriberOut(Stamped):
    id: str = Field(description="Public id.")
    email: str
    name: str
    status: SubscriberStatus
    attributes: dict[str, Any]
    subscriptions: list[SubscriptionOut]


class SubscriberCreate(Input):
    email: str = Field(max_length=320, examples=["ann@example.org"])
    name: str = Field(default="", max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)
    lists: list[str] = Field(default_factory=list, max_length=100,
                             description="Slugs or ids of lists to subscribe to.")
    status: Literal["unconfirmed", "confirmed"] = Field(
        default="unconfirmed",
        description="`confirmed` states that you hold the reader's consent; "
                    "`unconfirmed` sends double opt-in lists' confirmation email.")


class SubscriberPatch(Input):
    name: str | None = Field(default=None, max_length=200)
    attributes: dict[str, Any] | None = Field(
        default=None, description="Replaces all attributes when given.")
    status: SubscriberStatus | None = None


class SubscriptionPut(Input):
    status: SubscriptionStatus = Field(
        description="`confirmed` records that you hold the reader's consent; "
                    "`unconfirmed` sends a confirmation email; `unsubscribed` ends it.")


class BulkItem(Input):
    email: str = Field(max_length=320)
    name: str | None = Field(default=None, max_length=200)
    attributes: dict[str, Any] | None = None


class BulkUpsert(Input):
    subscribers: list[BulkItem] = Field(min_length=1, max_length=MAX_BULK)
    lists: list[str] = Field(min_length=1, max_length=100,
                             description="Slugs or ids of the lists every subscriber is "
                                         "subscribed to.")
    status: Literal["unconfirmed", "confirmed"] = "unconfirmed"
    update_existing: bool = Field(
        default=True, description="Whether names and attributes of existing subscribers "
                                  "are overwritten by the ones given.")


class BulkProblem(BaseModel):
    index: int = Field(description="Position of the item in `subscribers` (from 0).")
    email: str
    reason: str


class BulkResult(BaseModel):
    created: int
    updated: int
    skipped: int
    problems: list[BulkProblem]


def subscription_out(sub: Subscription, found: MailingList) -> SubscriptionOut:
    return SubscriptionOut(list=found.slug, list_id=found.uid, status=sub.status,
                           confirmed_at=sub.confirmed_at, unsubscribed_at=sub.unsubscribed_at)


def out(s: Subscriber, subs: list[SubscriptionOut]) -> SubscriberOut:
    return SubscriberOut(id=s.uid, email=s.email, name=s.name, status=s.status,
                         attributes=s.attributes, created_at=s.created_at,
                         updated_at=s.updated_at, subscriptions=subs)


def _one(request: Request, ref: str) -> SubscriberOut:
    found = subscribers.profile(runtime(request).db, ref)
    return out(found.subscriber, [subscription_out(sub, found.lists[lid])
                                  for lid, sub in sorted(found.subscriptions.items())])


@router.get("/subscribers", summary="Search and page through subscribers (newest first)")
def index(request: Request, key: Reader,
          q: Annotated[str, Query(max_length=200, description="Email or name starts with "
                                                               "this (case-insensitive).")] = "",
          list: Annotated[str | None, Query(pattern=REF_PATTERN,
                                            description="Only members of this list.")] = None,
          list_status: Annotated[SubscriptionStatus | None, Query(
              description="With `list`: only subscriptions in this status.")] = None,
          status: SubscriberStatus | None = None,
          cursor: Annotated[str | None, Query(max_length=64)] = None,
          limit: Annotated[int, Query(ge=1, le=directory.MAX_PAGE)] = 50,
          ) -> Page[SubscriberOut]:
    db = runtime(request).db
    page = directory.browse(db, query=q, list_ref=list, list_status=list_status,
                            status=status, cursor=cursor, limit=limit)
    by_id = {m.id: m for m in lists.all_lists(db)}
    data = [out(s, [SubscriptionOut(list=by_id[lid].slug, list_id=by_id[lid].uid,
                                    status=SubscriptionStatus(st))
                    for lid, st in sorted(page.memberships.get(s.id, {}).items())
                    if lid in by_id])
            for s in page.items]
    return Page(data=data, next_cursor=page.next_cursor)


@router.post("/subscribers", status_code=201, summary="Add a subscriber")
def create(request: Request, key: Writer, body: SubscriberCreate) -> SubscriberOut:
    db = runtime(request).db
    created = subscribers.add(db, email=body.email, name=body.name,
                              attributes=body.attributes, lists=body.lists,
                              preconfirmed=body.status == "confirmed", source="api",
                              actor=key.label, api_key_id=key.id, send_confirmation=True)
    stats.forget(db)
    return _one(request, created.uid)


@router.post("/subscribers/bulk", summary="Add or update many subscribers at once",
             description="One transaction for all of them, as a CSV import would do: "
                         "existing addresses are matched case-insensitively, suppressed "
                         "addresses and invalid items are skipped and reported.")
def bulk(request: Request, key: Writer, body: BulkUpsert) -> BulkResult:
    db = runtime(request).db
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "name", "attributes"])
    for item in body.subscribers:
        writer.writerow([item.email, item.name or "",
                         json.dumps(item.attributes, ensure_ascii=False)
                         if item.attributes is not None else ""])
    report = io.StringIO()
    options = imports.ImportOptions(lists=tuple(body.lists),
                                    status=SubscriptionStatus(body.status),
                                    update_existing=body.update_existing, actor=key.label)
    result = imports.run(db, io.BytesIO(buffer.getvalue().encode("utf-8")), options,
                         report=report, filename="api-bulk")
    stats.forget(db)
    problems = [BulkProblem(index=int(line) - 2, email=email, reason=reason)
                for line, email, reason in list(csv.reader(io.StringIO(report.getvalue())))[1:]]
    return BulkResult(created=result.imported, updated=result.updated, skipped=result.skipped,
                      problems=problems)


@router.get("/subscribers/{ref}", summary="One subscriber with their subscriptions")
def show(request: Request, key: Reader, ref: Ref) -> SubscriberOut:
    return _one(request, ref)


@router.patch("/subscribers/{ref}", summary="Change a subscriber (only the fields given)")
def update(request: Request, key: Writer, ref: Ref, body: SubscriberPatch) -> SubscriberOut:
    changed = subscribers.update(runtime(request).db, ref, name=body.name,
                                 attributes=body.attributes, status=body.status,
                                 actor=key.label)
    return _one(request, changed.uid)


@router.delete("/subscribers/{ref}", status_code=204,
               summary="Delete a subscriber with their history")
def delete(request: Request, key: Writer, ref: Ref) -> Response:
    db = runtime(request).db
    subscribers.delete(db, ref, actor=key.label)
    stats.forget(db)
    return Response(status_code=204)


@router.get("/subscribers/{ref}/subscriptions", summary="A subscriber's subscriptions")
def subscriptions(request: Request, key: Reader, ref: Ref) -> list[SubscriptionOut]:
    return _one(request, ref).subscriptions


@router.put("/subscribers/{ref}/subscriptions/{list_ref}",
            summary="Subscribe, confirm or unsubscribe on one list (idempotent)")
def put_subscription(request: Request, key: Writer, ref: Ref, list_ref: ListRef,
                     body: SubscriptionPut) -> SubscriptionOut:
    db = runtime(request).db
    changed = memberships.put(db, ref, list_ref, body.status, source="api", actor=key.label,
                              api_key_id=key.id)
    stats.forget(db)
    return subscription_out(changed, lists.get(db, list_ref))


@router.delete("/subscribers/{ref}/subscriptions/{list_ref}",
               summary="Unsubscribe from one list")
def delete_subscription(request: Request, key: Writer, ref: Ref,
                        list_ref: ListRef) -> SubscriptionOut:
    db = runtime(request).db
    changed = memberships.put(db, ref, list_ref, SubscriptionStatus.UNSUBSCRIBED,
                              source="api", actor=key.label, api_key_id=key.id)
    stats.forget(db)
    return subscription_out(changed, lists.get(db, list_ref))
