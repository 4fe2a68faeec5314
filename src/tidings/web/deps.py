"""FastAPI dependencies shared by every part of the web layer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tidings.bootstrap import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def client_ip(request: Request) -> str:
    """The peer address (a reverse proxy must be configured to pass the real one)."""
    return request.client.host if request.client else "unknown"
