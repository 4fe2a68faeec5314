"""The server-rendered admin UI under ``/admin``.

Every page needs a signed-in user holding the page's permission (see ``common``);
every form post carries a CSRF token bound to the session (``web/csrf.py``); pages
send a strict Content Security Policy (no inline script, nothing from elsewhere).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from tidings.services import stats
from tidings.web.admin import (
    access,
    campaigns,
    content,
    dashboard,
    embed,
    imports,
    lists,
    outbox,
    settings,
    subscribers,
    team,
)
from tidings.web.admin.common import Redirect, csrf_protect

SECTIONS = (access, dashboard, lists, subscribers, imports, campaigns, content, embed,
            settings, team, outbox)


def mount(app: FastAPI) -> None:
    """Add the admin routes to ``app``."""
    router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
    for section in SECTIONS:
        router.include_router(section.router)
    app.include_router(router)

    def warm_figures() -> None:
        stats.warm(app.state.runtime.db)

    app.router.on_startup.append(warm_figures)

    @app.exception_handler(Redirect)
    async def _redirect(request: Request, exc: Redirect) -> Response:
        return RedirectResponse(exc.url, status_code=303)
