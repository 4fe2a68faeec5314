"""The REST API v1 under ``/api/v1``: JSON, bearer API keys, RFC 7807 problems.

Every route depends on :func:`tidings.web.api.security.require` with the permission it
needs; ``/api/v1/openapi.json`` describes them all and ``/api/docs`` is a reference
page generated from that document.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response

from tidings import __version__
from tidings.web import pages
from tidings.web.api import campaigns, content, imports, lists, settings, subscribers
from tidings.web.api.schemas import PROBLEMS

PREFIX = "/api/v1"
RESOURCES = (lists, subscribers, imports, campaigns, content, settings)
DESCRIPTION = """\
Tidings' REST API. Authenticate with an API key (Admin → API keys):
`Authorization: Bearer tdg_…`. Each key has a role (viewer reads; editor also writes and
sends; admin also changes settings). Errors are RFC 7807 `application/problem+json`.
Collections are paged with an opaque `cursor` (`next_cursor` of the previous page).
See docs/api.md."""


def router() -> APIRouter:
    api = APIRouter(prefix=PREFIX, responses=PROBLEMS)
    for resource in RESOURCES:
        api.include_router(resource.router)
    return api


def openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of the API routes only (built once per app)."""
    cached: dict[str, Any] | None = getattr(app.state, "api_openapi", None)
    if cached is None:
        full = get_openapi(title="Tidings API", version=__version__, description=DESCRIPTION,
                           routes=app.routes, servers=[{"url": "/"}])
        paths = {p: ops for p, ops in full.get("paths", {}).items() if p.startswith(PREFIX)}
        schemas = full.get("components", {}).get("schemas", {})
        cached = {**full, "paths": paths,
                  "components": {**full.get("components", {}),
                                 "schemas": _reachable(paths, schemas)}}
        app.state.api_openapi = cached
    return cached


def _reachable(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schemas the API's operations refer to, directly or through other schemas."""
    found: dict[str, Any] = {}
    todo = [paths]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in found and name in schemas:
                    found[name] = schemas[name]
                    todo.append(schemas[name])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return dict(sorted(found.items()))


def mount(app: FastAPI) -> None:
    """Add the API routes, its OpenAPI document and its reference page to ``app``."""
    app.include_router(router())

    @app.get(PREFIX + "/openapi.json", include_in_schema=False)
    def openapi_document(request: Request) -> JSONResponse:
        return JSONResponse(openapi(request.app))

    @app.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
    def reference(request: Request) -> Response:
        return pages.render(request, "api/reference.html",
                            {"doc": openapi(request.app), "operations": _operations(
                                openapi(request.app))})


def _operations(doc: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Operations grouped by tag, in document order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, methods in doc.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append({"method": method.upper(), "path": path, **op})
    return list(groups.items())
