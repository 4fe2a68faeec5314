"""Subscribers: search and filter a page at a time, one subscriber's record, changes."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tidings.domain.errors import Conflict, Suppressed, ValidationError
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.domain.users import User
from tidings.services import directory, lists, memberships, stats, subscribers
from tidings.web.admin.common import Reader, Writer, redirect, render, runtime

router = APIRouter()
PAGE_SIZE = 50


def _status(value: str) -> SubscriberStatus | None:
    if not value:
        return None
    try:
        return SubscriberStatus(value)
    except ValueError:
        raise ValidationError(f"Unknown status {value!r}.", field="status") from None


def _list_status(value: str) -> SubscriptionStatus | None:
    if not value:
        return None
    try:
        return SubscriptionStatus(value)
    except ValueError:
        raise ValidationError(f"Unknown subscription status {value!r}.",
                              field="list_status") from None


@router.get("/admin/subscribers", response_class=HTMLResponse)
def index(request: Request, user: Reader, q: str = "", list: str = "",
          list_status: str = "", status: str = "", cursor: str = "") -> Response:
    db = runtime(request).db
    filters = {"q": q, "list": list, "list_status": list_status, "status": status}
    page = directory.browse(db, query=q, list_ref=list or None,
                            list_status=_list_status(list_status), status=_status(status),
                            cursor=cursor or None, limit=PAGE_SIZE)
    all_lists = lists.all_lists(db)
    return render(request, "admin/subscribers.html", {
        "page": page, "filters": filters, "lists": all_lists,
        "lists_by_id": {m.id: m for m in all_lists}, "first_page": not cursor,
        "total": stats.subscriber_total(db) if not any(filters.values()) else None,
    }, section="subscribers")


@router.get("/admin/subscribers/new", response_class=HTMLResponse)
def new(request: Request, user: Writer) -> Response:
    return render(request, "admin/subscriber_new.html",
                  {"lists": lists.all_lists(runtime(request).db), "form": {}},
                  section="subscribers")


@router.post("/admin/subscribers/new", response_class=HTMLResponse)
async def create(request: Request, user: Writer) -> Response:
    form = await request.form()
    return await run_in_threadpool(_create, request, user, form)


def _create(request: Request, user: User, form: FormData) -> Response:
    email = str(form.get("email", ""))
    name = str(form.get("name", ""))
    chosen = [str(v) for v in form.getlist("lists")]
    confirmed = form.get("confirmed") == "yes"
    db = runtime(request).db
    try:
        created = subscribers.add(db, email=email, name=name, lists=chosen,
                                  preconfirmed=confirmed, source="admin", actor=user.label,
                                  user_id=user.id, send_confirmation=True)
    except (ValidationError, Conflict) as exc:
        return render(request, "admin/subscriber_new.html", {
            "lists": lists.all_lists(db), "error": exc.message,
            "form": {"email": email, "name": name, "lists": chosen,
                     "confirmed": confirmed}},
            status_code=409 if isinstance(exc, Conflict | Suppressed) else 422,
            section="subscribers")
    stats.forget(db)
    return redirect(request, f"/admin/subscribers/{created.uid}", f"Added {created.email}.")


@router.get("/admin/subscribers/{uid}", response_class=HTMLResponse)
def show(request: Request, user: Reader, uid: str) -> Response:
    found = directory.record(runtime(request).db, uid)
    return render(request, "admin/subscriber.html", {
        "record": found, "s": found.subscriber,
        "attributes": json.dumps(found.subscriber.attributes, indent=2, ensure_ascii=False),
    }, section="subscribers")


@router.post("/admin/subscribers/{uid}")
def update(request: Request, user: Writer, uid: str, name: Annotated[str, Form()] = "",
           attributes: Annotated[str, Form()] = "{}") -> Response:
    try:
        parsed = json.loads(attributes or "{}")
    except json.JSONDecodeError as exc:
        return redirect(request, f"/admin/subscribers/{uid}",
                        f"The attributes are not valid JSON: {exc.msg}.")
    try:
        subscribers.update(runtime(request).db, uid, name=name, attributes=parsed,
                           actor=user.label)
    except ValidationError as exc:
        return redirect(request, f"/admin/subscribers/{uid}", exc.message)
    return redirect(request, f"/admin/subscribers/{uid}", "Saved.")


@router.post("/admin/subscribers/{uid}/status")
def set_status(request: Request, user: Writer, uid: str,
               status: Annotated[SubscriberStatus, Form()]) -> Response:
    changed = subscribers.update(runtime(request).db, uid, status=status, actor=user.label)
    note = "Blocklisted: they will never be mailed." if status is \
        SubscriberStatus.BLOCKLISTED else "Unblocked."
    return redirect(request, f"/admin/subscribers/{changed.uid}", note)


@router.post("/admin/subscribers/{uid}/delete")
def delete(request: Request, user: Writer, uid: str) -> Response:
    found = subscribers.delete(runtime(request).db, uid, actor=user.label)
    stats.forget(runtime(request).db)
    return redirect(request, "/admin/subscribers", f"Deleted {found.email}.")


@router.post("/admin/subscribers/{uid}/subscriptions")
def subscription(request: Request, user: Writer, uid: str, list: Annotated[str, Form()],
                 status: Annotated[SubscriptionStatus, Form()]) -> Response:
    try:
        memberships.put(runtime(request).db, uid, list, status, source="admin",
                        actor=user.label, user_id=user.id)
    except (ValidationError, Conflict) as exc:
        return redirect(request, f"/admin/subscribers/{uid}", exc.message)
    stats.forget(runtime(request).db)
    return redirect(request, f"/admin/subscribers/{uid}", f"Subscription: {status}.")
