"""The dashboard: subscribers per list, growth over time, recent campaigns."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tidings.services import campaigns, lists, stats
from tidings.web.admin import charts
from tidings.web.admin.common import Reader, render, runtime

router = APIRouter()


@router.get("/admin", response_class=HTMLResponse)
def dashboard(request: Request, user: Reader) -> Response:
    db = runtime(request).db
    all_lists = lists.all_lists(db)
    members = stats.list_members(db)
    total = stats.subscriber_total(db)
    growth = stats.growth(db)
    recent = campaigns.recent(db, limit=8)
    delivery = [(c.name, [("sent", c.sent), ("failed", c.failed),
                          ("pending", max(0, c.total - c.sent - c.failed))])
                for c in recent if c.total]
    return render(request, "admin/dashboard.html", {
        "lists": all_lists, "members": members, "total": total,
        "confirmed": sum(c.get("confirmed", 0) for c in members.value.values()),
        "growth_chart": charts.line(growth.value, label="Subscribers over the last 90 days"),
        "growth": growth, "campaigns": recent,
        "delivery_chart": charts.bars(delivery, label="Deliveries of recent campaigns"),
    }, section="dashboard")
