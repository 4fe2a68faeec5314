"""``tidings campaigns``: write, send and follow campaigns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli import context, follow
from tidings.cli.files import read_text
from tidings.cli.output import console, print_json
from tidings.domain.campaigns import BodyFormat, CampaignStatus
from tidings.services import campaigns, scheduling, segments, sending, templates

app = typer.Typer(help="Create, send and follow campaigns.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="Internal name.")],
    subject: Annotated[str, typer.Option("--subject", "-s", help="Subject (merge fields "
                                                                 "allowed).")],
    body: Annotated[Path, typer.Option("--body", "-b", help="File with the body; - for "
                                                            "standard input.")],
    list_refs: Annotated[list[str] | None, typer.Option(
        "--list", "-l", help="Target list (repeatable).")] = None,
    body_format: Annotated[BodyFormat, typer.Option("--format", "-f")] = BodyFormat.MARKDOWN,
    segment: Annotated[str | None, typer.Option("--segment", help="Segment id (with lists: "
                                                "their members who match it).")] = None,
    template: Annotated[str | None, typer.Option("--template", help="Layout id (default: "
                                                 "the default template).")] = None,
) -> None:
    """Create a draft campaign and print its id."""
    db = context.runtime().db
    created = campaigns.create(
        db, name=name, subject=subject, body=read_text(body), body_format=body_format,
        lists=list_refs or [], actor="cli",
        segment_id=None if segment is None else segments.get(db, segment).id,
        template_id=None if template is None else templates.get(db, template).id)
    console.print(created.uid)


@app.command("list")
def list_all(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
) -> None:
    """Show recent campaigns."""
    found = campaigns.recent(context.runtime().db, limit=limit)
    if as_json:
        print_json([{"id": c.uid, "name": c.name, "status": scheduling.describe(c),
                     "sent": c.sent, "failed": c.failed, "total": c.total} for c in found])
        return
    table = Table("id", "name", "status", "sent", "failed", "total")
    for c in found:
        table.add_row(c.uid, c.name, scheduling.describe(c), str(c.sent), str(c.failed),
                      str(c.total))
    console.print(table)


def _show(found: sending.Progress, as_json: bool) -> None:
    if as_json:
        print_json(found.as_dict())
        return
    table = Table("id", "name", "status", "total", "sent", "failed", "skipped", "remaining",
                  "rate", "eta")
    table.add_row(found.uid, found.name, str(found.status), str(found.total),
                  str(found.sent), str(found.failed), str(found.skipped),
                  str(found.remaining), f"{found.rate:.0f}/s",
                  "-" if found.eta is None else f"{found.eta:.0f} s")
    console.print(table)
    if found.status is CampaignStatus.RUNNING:
        for relay in found.relays:
            backing = float(relay.get("backing_off") or 0)
            console.print(f"Relay {relay.get('relay')}: {relay.get('error')}"
                          + (f" (backing off, next try in {backing:.0f} s)" if backing else ""),
                          markup=False)
    if found.error and found.status is CampaignStatus.PAUSED:
        console.print(f"Paused by the worker: {found.error}", markup=False)


@app.command("send")
def send(
    ref: Annotated[str, typer.Argument(help="Campaign id.")],
    wait: Annotated[bool, typer.Option("--wait", help="Follow the sending with a progress "
                                                      "bar until it ends.")] = False,
) -> None:
    """Start sending a draft or scheduled campaign now."""
    runtime = context.runtime()
    campaign = sending.start(runtime.db, ref, actor="cli")
    console.print(f"Sending {campaign.uid} to {campaign.total} readers.")
    if wait:
        follow.follow(runtime, campaign.uid)


@app.command("pause")
def pause(ref: Annotated[str, typer.Argument(help="Campaign id.")]) -> None:
    """Pause a running campaign (within a second; resume continues where it stopped)."""
    console.print(f"Paused {sending.pause(context.runtime().db, ref, actor='cli').uid}.")


@app.command("resume")
def resume(
    ref: Annotated[str, typer.Argument(help="Campaign id.")],
    wait: Annotated[bool, typer.Option("--wait", help="Follow until it ends.")] = False,
) -> None:
    """Resume a paused campaign."""
    runtime = context.runtime()
    console.print(f"Resumed {sending.resume(runtime.db, ref, actor='cli').uid}.")
    if wait:
        follow.follow(runtime, ref)


@app.command("cancel")
def cancel(ref: Annotated[str, typer.Argument(help="Campaign id.")]) -> None:
    """Stop a campaign for good (what was sent stays sent)."""
    console.print(f"Cancelled {sending.cancel(context.runtime().db, ref, actor='cli').uid}.")


@app.command("status")
def status(
    ref: Annotated[str, typer.Argument(help="Campaign id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a campaign's progress: sent, failed, skipped, remaining, rate, ETA."""
    _show(sending.progress(context.runtime().db, ref), as_json)
