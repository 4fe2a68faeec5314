"""The public archive: ``/archive``, ``/archive/<slug>`` and the Atom feed ``/archive/feed.xml``.

Issues are rendered by :func:`tidings.services.archive.render` for a placeholder
reader and sanitised there; rendered issues are kept for a minute per process.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated
from xml.etree import ElementTree

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from tidings.bootstrap import Runtime
from tidings.domain.campaigns import Campaign
from tidings.services import archive, runtime_settings
from tidings.services.archive import Issue
from tidings.web import pages

router = APIRouter()

CACHE_SECONDS = 60.0
_CACHE_KEY = "archive.issues"
_CACHE_SIZE = 256
_ATOM = "http://www.w3.org/2005/Atom"
# Issues are sanitised HTML; the page runs no script and loads styles only from here.
_HEADERS = {
    "Cache-Control": "public, max-age=300",
    "Content-Security-Policy": "default-src 'none'; img-src http: https: data:; "
                               "style-src 'self' 'unsafe-inline'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def _runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def _rendered(runtime: Runtime, campaign: Campaign) -> Issue:
    cache: dict[tuple[int, datetime], tuple[float, Issue]] = \
        runtime.db.cache.setdefault(_CACHE_KEY, {})
    key = (campaign.id, campaign.updated_at)
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    issue = archive.render(runtime.db, campaign, site=runtime.settings, tokens=runtime.tokens)
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = (time.monotonic(), issue)
    return issue


@router.get("/archive", include_in_schema=False)
def archive_index(request: Request,
                  page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    runtime = _runtime(request)
    found, total = archive.issues(runtime.db, page=page)
    shown = [_rendered(runtime, c) for c in found]
    return pages.render(request, "public/archive.html",
                        {"issues": shown, "page": page,
                         "more": page * archive.PER_PAGE < total},
                        headers=_HEADERS)


@router.get("/archive/feed.xml", include_in_schema=False)
def archive_feed(request: Request) -> Response:
    runtime = _runtime(request)
    found, _ = archive.issues(runtime.db, page=1)
    base = runtime.settings.base_url
    publisher = str(runtime_settings.get(runtime.db, "publisher.name"))
    return Response(atom([_rendered(runtime, c) for c in found], base, publisher),
                    media_type="application/atom+xml; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/archive/{slug}", include_in_schema=False)
def archive_issue(request: Request, slug: str) -> Response:
    runtime = _runtime(request)
    issue = _rendered(runtime, archive.issue(runtime.db, slug))
    # The issue's HTML was sanitised with nh3 by archive.render.
    return pages.render(request, "public/archive_issue.html",
                        {"issue": issue, "content": Markup(issue.html)},  # noqa: S704
                        headers=_HEADERS)


def atom(issues: list[Issue], base_url: str, publisher: str) -> bytes:
    """An Atom 1.0 document (RFC 4287) of ``issues``, newest first."""
    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    feed = ElementTree.Element("feed", {"xmlns": _ATOM})

    def add(parent: ElementTree.Element, tag: str, text: str | None = None,
            **attributes: str) -> ElementTree.Element:
        child = ElementTree.SubElement(parent, tag, attributes)
        child.text = text
        return child

    add(feed, "title", f"{publisher}: archive")
    add(feed, "id", f"{base_url}/archive")
    add(feed, "link", rel="self", href=f"{base_url}/archive/feed.xml")
    add(feed, "link", rel="alternate", type="text/html", href=f"{base_url}/archive")
    newest = max((i.published_at for i in issues), default=datetime(2000, 1, 1, tzinfo=UTC))
    add(feed, "updated", stamp(newest))
    author = add(feed, "author")
    add(author, "name", publisher)
    for issue in issues:
        url = f"{base_url}/archive/{issue.slug}"
        entry = add(feed, "entry")
        add(entry, "title", issue.subject)
        add(entry, "id", url)
        add(entry, "link", rel="alternate", type="text/html", href=url)
        add(entry, "published", stamp(issue.published_at))
        add(entry, "updated", stamp(issue.published_at))
        add(entry, "content", issue.html, type="html")
    body: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
