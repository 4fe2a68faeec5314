"""Server-rendered pages: one Jinja2 environment (autoescaping) for public and admin HTML.

These are Tidings' own templates; user-authored email templates run in the sandbox
of :mod:`tidings.mail` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")

_templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
_templates.env.autoescape = True


def environment() -> Any:
    return _templates.env


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render ``name`` with the publisher's branding available as ``brand``."""
    ctx: dict[str, Any] = {"brand": _brand(request)}
    ctx.update(context or {})
    return _templates.TemplateResponse(request, name, ctx, status_code=status_code,
                                       headers=headers)


def _brand(request: Request) -> dict[str, Any]:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return {}
    from tidings.services import runtime_settings

    values = runtime_settings.get_all(runtime.db)
    return {key.removeprefix("publisher."): value for key, value in values.items()
            if key.startswith("publisher.")}
