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


# Managed elsewhere: setup by the first-run page, DKIM keys (secret) under Admin → Settings.
FIXED = ("setup.", "dkim.")


def _public(values: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in values.items() if not k.startswith(FIXED)}
    shown["dkim.keys"] = [{"domain": k.get("domain"), "selector": k.get("selector"),
                           "algorithm": k.get("algorithm")}
                          for k in values.get("dkim.keys") or []]
    return shown


@router.get("/settings", summary="Every runtime setting with its current value",
            description="DKIM keys are listed without their private keys.")
def show(request: Request, key: Reader) -> dict[str, Any]:
    return _public(runtime_settings.get_all(runtime(request).db))


@router.patch("/settings", summary="Change some settings (all validated, then stored at once)",
              description="Send an object of setting names and new values; names are those "
                          "of docs/configuration.md, *Runtime settings*.")
def update(request: Request, key: Admin, body: dict[str, Any]) -> dict[str, Any]:
    fixed = sorted(k for k in body if k.startswith(FIXED))
    if fixed:
        raise ValidationError(f"{fixed[0]} cannot be changed here (DKIM keys are managed "
                              "under Admin → Settings).", field=fixed[0])
    clean = dict(body)
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
