"""``/embed/snippet``: the HTML of the embeddable signup form, to copy into a site."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from tidings.services import signups
from tidings.web.embed import embed_snippet
from tidings.web.public import common

router = APIRouter()


@router.get("/embed/snippet", include_in_schema=False)
def snippet(request: Request) -> Response:
    """The snippet for the public lists named by ``?list=`` (all of them by default);
    ``?script=0`` leaves the script out."""
    runtime = common.runtime(request)
    refs = request.query_params.getlist("list")
    lists = signups.offered(runtime.db, refs)
    html = embed_snippet(runtime.settings.base_url, lists, db=runtime.db,
                         with_script=request.query_params.get("script") != "0")
    return PlainTextResponse(html, headers={"Cache-Control": "no-store"})
