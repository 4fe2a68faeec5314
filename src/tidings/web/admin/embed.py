"""The embeddable signup form: choose lists, copy the snippet."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tidings.domain.lists import Visibility
from tidings.services import lists
from tidings.web.admin.common import Reader, render, runtime
from tidings.web.embed import HEADING, embed_snippet

router = APIRouter()


@router.get("/admin/embed", response_class=HTMLResponse)
def embed(request: Request, user: Reader, chosen: list[str] = Query(default=[]),  # noqa: B008
          heading: str = HEADING, script: str = "yes") -> Response:
    rt = runtime(request)
    offered = lists.all_lists(rt.db, visibility=Visibility.PUBLIC)
    shown = [m for m in offered if m.slug in chosen] or offered
    snippet = embed_snippet(rt.settings.base_url, shown, db=rt.db, heading=heading[:200],
                            with_script=script == "yes") if shown else ""
    return render(request, "admin/embed.html", {
        "lists": offered, "chosen": chosen, "heading": heading, "script": script == "yes",
        "snippet": snippet, "cors": rt.settings.cors_origins}, section="embed")
