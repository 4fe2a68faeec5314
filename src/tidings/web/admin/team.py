"""Administration: users and roles, API keys, the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tidings.domain.errors import Conflict, ValidationError
from tidings.domain.roles import Role
from tidings.services import accounts, api_keys, audit, team
from tidings.web.admin.common import Admin, redirect, render, runtime

router = APIRouter()


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, user: Admin) -> Response:
    return render(request, "admin/users.html",
                  {"users": team.all_users(runtime(request).db), "roles": list(Role),
                   "form": {}}, section="users")


@router.post("/admin/users", response_class=HTMLResponse)
def invite(request: Request, user: Admin, email: Annotated[str, Form()],
           role: Annotated[Role, Form()], name: Annotated[str, Form()] = "") -> Response:
    rt = runtime(request)
    try:
        created = team.invite(rt.db, email=email, name=name, role=role, actor=user)
    except (ValidationError, Conflict) as exc:
        return render(request, "admin/users.html", {
            "users": team.all_users(rt.db), "roles": list(Role), "error": exc.message,
            "form": {"email": email, "name": name, "role": role}},
            status_code=422 if isinstance(exc, ValidationError) else 409, section="users")
    return redirect(request, "/admin/users",
                    f"Invited {created.email}: they get an email to choose a password.")


@router.post("/admin/users/{uid}/role")
def change_role(request: Request, user: Admin, uid: str,
                role: Annotated[Role, Form()]) -> Response:
    changed = team.change_role(runtime(request).db, uid, role, actor=user.label)
    return redirect(request, "/admin/users", f"{changed.email} is now {changed.role}.")


@router.post("/admin/users/{uid}/active")
def set_active(request: Request, user: Admin, uid: str,
               active: Annotated[bool, Form()]) -> Response:
    changed = team.set_active(runtime(request).db, uid, active, actor=user.label)
    state = "enabled" if changed.is_active else "disabled and signed out everywhere"
    return redirect(request, "/admin/users", f"{changed.email} is {state}.")


@router.post("/admin/users/{uid}/reset-totp")
def reset_totp(request: Request, user: Admin, uid: str) -> Response:
    changed = accounts.reset_totp(runtime(request).db, user, uid)
    return redirect(request, "/admin/users",
                    f"Two-factor sign-in removed for {changed.email}.")


@router.get("/admin/api-keys", response_class=HTMLResponse)
def keys(request: Request, user: Admin) -> Response:
    return render(request, "admin/api_keys.html",
                  {"keys": api_keys.all_keys(runtime(request).db), "roles": list(Role)},
                  section="api-keys")


@router.post("/admin/api-keys", response_class=HTMLResponse)
def create_key(request: Request, user: Admin, name: Annotated[str, Form()],
               role: Annotated[Role, Form()]) -> Response:
    db = runtime(request).db
    try:
        created, secret = api_keys.create(db, name=name, role=role, actor=user)
    except ValidationError as exc:
        return render(request, "admin/api_keys.html",
                      {"keys": api_keys.all_keys(db), "roles": list(Role),
                       "error": exc.message}, status_code=422, section="api-keys")
    # The secret is shown on this response only; it is stored as a hash.
    return render(request, "admin/api_keys.html",
                  {"keys": api_keys.all_keys(db), "roles": list(Role),
                   "created": created, "secret": secret}, section="api-keys")


@router.post("/admin/api-keys/{uid}/revoke")
def revoke_key(request: Request, user: Admin, uid: str) -> Response:
    found = api_keys.revoke(runtime(request).db, uid, actor=user)
    return redirect(request, "/admin/api-keys", f"Revoked the key {found.name}.")


@router.get("/admin/events", response_class=HTMLResponse)
def event_log(request: Request, user: Admin, before: int | None = None) -> Response:
    found = audit.recent(runtime(request).db, before_id=before, limit=100)
    return render(request, "admin/events.html", {"events": found}, section="events")
