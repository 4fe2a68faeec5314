"""``tidings feeds``: RSS and Atom feeds turned into digest campaigns."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tidings.cli import context
from tidings.cli.output import console, print_json
from tidings.domain.feeds import WEEKDAYS, Feed, Frequency
from tidings.services import feeds, templates

app = typer.Typer(help="Register feeds whose new items become digest campaigns.",
                  no_args_is_help=True)


def _data(feed: Feed) -> dict[str, Any]:
    return {"id": feed.uid, "name": feed.name, "url": feed.url,
            "frequency": str(feed.frequency),
            "weekday": None if feed.weekday is None else WEEKDAYS[feed.weekday],
            "at": feed.send_time, "timezone": feed.timezone, "list_ids": list(feed.list_ids),
            "subject": feed.subject, "auto_send": feed.auto_send, "enabled": feed.enabled,
            "next_run_at": feed.next_run_at.isoformat() if feed.next_run_at else None,
            "last_run_at": feed.last_run_at.isoformat() if feed.last_run_at else None,
            "last_error": feed.last_error}


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Name of the digest.")],
    url: Annotated[str, typer.Argument(help="The RSS or Atom feed's address.")],
    list_refs: Annotated[list[str], typer.Option("--list", "-l", help="Target list "
                                                                      "(repeatable).")],
    at: Annotated[str, typer.Option("--at", help="Time of day, HH:MM.")] = "08:00",
    weekly: Annotated[str | None, typer.Option(
        "--weekly", help="Weekday of a weekly digest (default: daily).")] = None,
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone of --at.")] = "UTC",
    subject: Annotated[str | None, typer.Option("--subject", "-s")] = None,
    template: Annotated[str | None, typer.Option("--template", help="Layout id.")] = None,
    auto_send: Annotated[bool, typer.Option("--auto-send/--review", help="Send digests at "
                                            "once, or keep them as drafts.")] = False,
    include_existing: Annotated[bool, typer.Option(
        "--include-existing", help="Put the items the feed has now in the first "
                                   "digest.")] = False,
) -> None:
    """Register a feed (fetched once to check it) and print its id."""
    db = context.runtime().db
    created = feeds.add(
        db, name=name, url=url, lists=list_refs, send_time=at,
        frequency=Frequency.WEEKLY if weekly else Frequency.DAILY, weekday=weekly,
        timezone=tz, subject=subject,
        template_id=None if template is None else templates.get(db, template).id,
        auto_send=auto_send, include_existing=include_existing, actor="cli")
    console.print(created.uid)


@app.command("list")
def list_all(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
             ) -> None:
    """Every feed with its schedule and last result."""
    found = feeds.all_feeds(context.runtime().db)
    if as_json:
        print_json([_data(f) for f in found])
        return
    table = Table("id", "name", "schedule", "next run (UTC)", "mode", "last error")
    for f in found:
        when = f"{f.frequency} {WEEKDAYS[f.weekday] if f.weekday is not None else ''} " \
               f"{f.send_time} {f.timezone}".replace("  ", " ")
        table.add_row(f.uid, f.name, when,
                      f"{f.next_run_at:%Y-%m-%d %H:%M}" if f.next_run_at and f.enabled
                      else "disabled",
                      "auto-send" if f.auto_send else "review", f.last_error or "")
    console.print(table)


@app.command("show")
def show(ref: Annotated[str, typer.Argument(help="Feed id.")]) -> None:
    """Show one feed as JSON."""
    print_json(_data(feeds.get(context.runtime().db, ref)))


@app.command("run")
def run(ref: Annotated[str, typer.Argument(help="Feed id.")]) -> None:
    """Fetch the feed now and make a digest of its new items."""
    result = feeds.run(context.runtime().db, ref, actor="cli")
    if result.campaign is None:
        console.print("Nothing new.")
    else:
        what = "sending" if result.started else "draft"
        console.print(f"Digest {result.campaign.uid} ({what}) with {result.items} item(s).")


@app.command("enable")
def enable(ref: Annotated[str, typer.Argument(help="Feed id.")]) -> None:
    """Run the feed on its schedule again."""
    console.print(f"Enabled {feeds.update(context.runtime().db, ref, enabled=True).uid}.")


@app.command("disable")
def disable(ref: Annotated[str, typer.Argument(help="Feed id.")]) -> None:
    """Stop running the feed (it keeps what it has shown)."""
    console.print(f"Disabled {feeds.update(context.runtime().db, ref, enabled=False).uid}.")


@app.command("delete")
def delete(
    ref: Annotated[str, typer.Argument(help="Feed id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a feed (its digests stay)."""
    db = context.runtime().db
    found = feeds.get(db, ref)
    if not yes:
        typer.confirm(f"Delete the feed {found.name!r}?", abort=True)
    feeds.delete(db, ref, actor="cli")
    console.print(f"Deleted {found.uid}.")
