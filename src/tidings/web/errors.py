"""Turning the domain error tree into HTTP: RFC 7807 problem JSON for APIs, pages otherwise."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tidings.domain import errors

log = logging.getLogger("tidings.web")

STATUS: tuple[tuple[type[errors.TidingsError], int], ...] = (
    (errors.TokenExpired, 410),
    (errors.TokenInvalid, 400),
    (errors.ValidationError, 422),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Unauthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.RateLimited, 429),
    (errors.PayloadTooLarge, 413),
    (errors.DeliveryError, 502),
    (errors.ConfigurationError, 500),
)

PROBLEM_TYPE = "https://tidings.dev/problems/"


def status_for(exc: errors.TidingsError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path.startswith("/3.0/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def problem(status: int, title: str, detail: str | None = None, *,
            kind: str | None = None, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    """An ``application/problem+json`` response (RFC 7807)."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + (kind or str(status)),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers,
                        media_type="application/problem+json")


def error_page(request: Request, status: int, title: str, detail: str | None) -> Response:
    from tidings.web import pages

    return pages.render(request, "error.html",
                        {"status": status, "title": title, "detail": detail},
                        status_code=status)


def install(app: FastAPI) -> None:
    """Register the handlers that map every error to a response."""

    @app.exception_handler(errors.TidingsError)
    async def _domain(request: Request, exc: errors.TidingsError) -> Response:
        status = status_for(exc)
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc.message)
        headers = {}
        if isinstance(exc, errors.RateLimited):
            headers["Retry-After"] = str(max(1, int(exc.retry_after)))
        if isinstance(exc, errors.Unauthenticated) and request.url.path.startswith("/api/"):
            headers["WWW-Authenticate"] = 'Bearer realm="tidings"'  # RFC 6750
        title = HTTPStatus(status).phrase
        if wants_json(request):
            return problem(status, title, exc.message, kind=type(exc).__name__,
                           headers=headers, field=getattr(exc, "field", None))
        response = error_page(request, status, title, exc.message)
        response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        first = details[0] if details else {"field": None, "message": "Invalid request."}
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        if wants_json(request):
            return problem(422, "Unprocessable Content", detail, kind="ValidationError",
                           errors=details)
        return error_page(request, 422, "Unprocessable Content", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        if wants_json(request):
            return problem(exc.status_code, title, detail, headers=dict(exc.headers or {}))
        response = error_page(request, exc.status_code, title, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if wants_json(request):
            return problem(500, "Internal Server Error", "Something went wrong on our side.")
        return HTMLResponse("<h1>Internal Server Error</h1>", status_code=500)
