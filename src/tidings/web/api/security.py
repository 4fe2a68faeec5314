"""API authentication and authorisation: bearer API keys, one permission per route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tidings.bootstrap import Runtime
from tidings.domain.api_keys import ApiKey
from tidings.domain.errors import PermissionDenied, Unauthenticated
from tidings.domain.roles import Permission, allows
from tidings.services import api_keys

bearer = HTTPBearer(auto_error=False, scheme_name="apiKey",
                    description="An API key created under Admin → API keys: "
                                "`Authorization: Bearer tdg_…`.")


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def api_key(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                       Security(bearer)]) -> ApiKey:
    """The key the request presents; 401 without one or with a revoked one."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("An API key is required: Authorization: Bearer <key>.")
    key = api_keys.authenticate(runtime(request).db, credentials.credentials)
    request.state.api_key = key
    return key


def require(permission: Permission) -> Callable[..., ApiKey]:
    """A dependency: the request's key, whose role must grant ``permission``."""
    def dependency(key: Annotated[ApiKey, Depends(api_key)]) -> ApiKey:
        if not allows(key.role, permission):
            raise PermissionDenied(f"This key's role ({key.role}) does not allow "
                                   f"{permission}.")
        return key
    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


Reader = Annotated[ApiKey, Depends(require(Permission.READ))]
Writer = Annotated[ApiKey, Depends(require(Permission.WRITE))]
Sender = Annotated[ApiKey, Depends(require(Permission.SEND))]
Admin = Annotated[ApiKey, Depends(require(Permission.ADMINISTER))]
