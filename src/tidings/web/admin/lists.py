"""Mailing lists: overview with member counts, create, edit, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tidings.domain.errors import Conflict, ValidationError
from tidings.domain.lists import OptIn, Visibility
from tidings.services import lists, stats
from tidings.web.admin.common import Reader, Writer, redirect, render, runtime

router = APIRouter()


@router.get("/admin/lists", response_class=HTMLResponse)
def index(request: Request, user: Reader) -> Response:
    db = runtime(request).db
    return render(request, "admin/lists.html", {
        "lists": lists.all_lists(db), "members": stats.list_members(db)}, section="lists")


@router.get("/admin/lists/new", response_class=HTMLResponse)
def new(request: Request, user: Writer) -> Response:
    return render(request, "admin/list_form.html", {"item": None, "form": {}},
                  section="lists")


@router.post("/admin/lists/new", response_class=HTMLResponse)
def create(request: Request, user: Writer, slug: Annotated[str, Form()],
           name: Annotated[str, Form()], description: Annotated[str, Form()] = "",
           visibility: Annotated[Visibility, Form()] = Visibility.PUBLIC,
           optin: Annotated[OptIn, Form()] = OptIn.DOUBLE) -> Response:
    form = {"slug": slug, "name": name, "description": description,
            "visibility": visibility, "optin": optin}
    try:
        created = lists.create(runtime(request).db, slug=slug.strip(), name=name,
                               description=description, visibility=visibility, optin=optin,
                               actor=user.label)
    except (ValidationError, Conflict) as exc:
        return render(request, "admin/list_form.html",
                      {"item": None, "form": form, "error": exc.message},
                      status_code=422 if isinstance(exc, ValidationError) else 409,
                      section="lists")
    stats.forget(runtime(request).db)
    return redirect(request, "/admin/lists", f"Created the list {created.name}.")


@router.get("/admin/lists/{ref}", response_class=HTMLResponse)
def edit(request: Request, user: Reader, ref: str) -> Response:
    db = runtime(request).db
    item = lists.get(db, ref)
    form = {"slug": item.slug, "name": item.name, "description": item.description,
            "visibility": item.visibility, "optin": item.optin}
    return render(request, "admin/list_form.html", {
        "item": item, "form": form,
        "members": stats.list_members(db).value.get(item.id, {})}, section="lists")


@router.post("/admin/lists/{ref}", response_class=HTMLResponse)
def update(request: Request, user: Writer, ref: str, name: Annotated[str, Form()],
           description: Annotated[str, Form()] = "",
           visibility: Annotated[Visibility, Form()] = Visibility.PUBLIC,
           optin: Annotated[OptIn, Form()] = OptIn.DOUBLE) -> Response:
    db = runtime(request).db
    try:
        changed = lists.update(db, ref, name=name, description=description,
                               visibility=visibility, optin=optin, actor=user.label)
    except ValidationError as exc:
        item = lists.get(db, ref)
        form = {"slug": item.slug, "name": name, "description": description,
                "visibility": visibility, "optin": optin}
        return render(request, "admin/list_form.html",
                      {"item": item, "form": form, "error": exc.message, "members": {}},
                      status_code=422, section="lists")
    return redirect(request, "/admin/lists", f"Saved the list {changed.name}.")


@router.post("/admin/lists/{ref}/delete")
def delete(request: Request, user: Writer, ref: str) -> Response:
    found = lists.delete(runtime(request).db, ref, actor=user.label)
    stats.forget(runtime(request).db)
    return redirect(request, "/admin/lists", f"Deleted the list {found.name}.")
