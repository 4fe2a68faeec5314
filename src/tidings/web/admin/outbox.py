"""The capture outbox browser: the messages Tidings wrote instead of sending them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tidings.services import mailbox
from tidings.web.admin.common import Reader, render, runtime

router = APIRouter()

# A captured message is untrusted HTML: no scripts, no requests, no forms, no framing
# outside the admin; the iframe that shows it adds its own sandbox too.
MESSAGE_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
               "frame-ancestors 'self'; sandbox")


@router.get("/admin/outbox", response_class=HTMLResponse)
def index(request: Request, user: Reader, to: str = "") -> Response:
    outbox_dir = runtime(request).settings.outbox_dir
    entries, total = mailbox.newest(outbox_dir, limit=200, recipient=to.strip())
    return render(request, "admin/outbox.html",
                  {"entries": entries, "total": total, "to": to, "outbox_dir": outbox_dir},
                  section="outbox")


@router.get("/admin/outbox/view/{name:path}", response_class=HTMLResponse)
def view(request: Request, user: Reader, name: str) -> Response:
    message = mailbox.read(runtime(request).settings.outbox_dir, name)
    return render(request, "admin/outbox_message.html", {"m": message}, section="outbox")


@router.get("/admin/outbox/html/{name:path}", response_class=HTMLResponse)
def html(request: Request, user: Reader, name: str) -> Response:
    message = mailbox.read(runtime(request).settings.outbox_dir, name)
    return HTMLResponse(message.html or "<p>This message has no HTML part.</p>", headers={
        "Content-Security-Policy": MESSAGE_CSP, "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.get("/admin/outbox/raw/{name:path}")
def raw(request: Request, user: Reader, name: str) -> Response:
    message = mailbox.read(runtime(request).settings.outbox_dir, name)
    return Response(message.raw, media_type="text/plain; charset=utf-8", headers={
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'",
        "Cache-Control": "no-store"})
