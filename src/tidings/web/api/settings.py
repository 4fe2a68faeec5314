"""``/api/v1/settings``: the runtime settings, and ``/api/v1/me``: the key in use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tidings.domain.errors import ValidationError
from tidings.domain.roles import Permission, Role, allows
from tidings.services import runtime_settings
from tidings.web.api.security import Admin, Reader, runtime

router = APIRouter(tags=["settings"])


def _public(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not k.startswith("setup.")}


@router.get("/settings", summary="Every runtime setting with its current value")
def show(request: Request, key: Reader) -> dict[str, Any]:
    return _public(runtime_settings.get_all(runtime(request).db))


@router.patch("/settings", summary="Change some settings (all validated, then stored at once)",
              description="Send an object of setting names and new values; names are those "
                          "of docs/configuration.md, *Runtime settings*.")
def update(request: Request, key: Admin, body: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in body.items() if not k.startswith("setup.")}
    if len(clean) != len(body):
        raise ValidationError("setup.* settings cannot be changed.", field="setup.completed")
    return _public(runtime_settings.update(runtime(request).db, clean, actor=key.label))


class Me(BaseModel):
    name: str
    prefix: str = Field(description="The key's visible prefix, `tdg_<prefix>_…`.")
    role: Role
    permissions: list[Permission]


@router.get("/me", summary="The API key making this request", tags=["keys"])
def me(key: Reader) -> Me:
    return Me(name=key.name, prefix=key.prefix, role=key.role,
              permissions=[p for p in Permission if allows(key.role, p)])
