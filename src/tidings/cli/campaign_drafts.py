"""``tidings campaigns`` commands for writing issues: edit, schedule, preview, test, ...

They are registered on the ``campaigns`` command group by :func:`register`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tidings.cli import context
from tidings.cli.files import read_text
from tidings.cli.output import console, print_json
from tidings.domain.campaigns import BodyFormat, Campaign
from tidings.domain.errors import ValidationError
from tidings.domain.timezones import zone
from tidings.services import archive, campaigns, scheduling, segments, templates
from tidings.services.campaigns import KEEP, Keep


def _when(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip().replace("T", " "))
    except ValueError:
        raise ValidationError(f"{value!r} is not a date and time like 2026-05-01 08:00.",
                              field="at") from None


def _template_id(ref: str | None) -> int | Keep | None:
    if ref is None:
        return KEEP
    if ref == "default":
        return None
    return templates.get(context.runtime().db, ref).id


def _segment_id(ref: str | None) -> int | Keep | None:
    if ref is None:
        return KEEP
    if ref == "none":
        return None
    return segments.get(context.runtime().db, ref).id


def details(campaign: Campaign) -> dict[str, Any]:
    """A campaign as ``show --json`` prints it."""
    scheduled = None
    if campaign.scheduled_at is not None:
        scheduled = campaign.scheduled_at.astimezone(zone(campaign.timezone)).isoformat()
    held = scheduling.held_since(campaign)
    return {
        "id": campaign.uid, "name": campaign.name, "status": scheduling.describe(campaign),
        "subject": campaign.subject, "format": str(campaign.body_format),
        "from_name": campaign.from_name, "from_email": campaign.from_email,
        "reply_to": campaign.reply_to, "list_ids": list(campaign.list_ids),
        "segment_id": campaign.segment_id, "template_id": campaign.template_id,
        "scheduled_at": scheduled, "timezone": campaign.timezone,
        "held_since": held.isoformat() if held else None,
        "archive": campaign.archive, "archive_slug": campaign.archive_slug,
        "total": campaign.total, "sent": campaign.sent, "failed": campaign.failed,
    }


def show(ref: Annotated[str, typer.Argument(help="Campaign id.")],
         as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show a campaign's settings, targets and schedule."""
    data = details(campaigns.get(context.runtime().db, ref))
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/bold]: {value}", markup=True, soft_wrap=True)


def edit(
    ref: Annotated[str, typer.Argument(help="Campaign id.")],
    name: Annotated[str | None, typer.Option("--name", "-n")] = None,
    subject: Annotated[str | None, typer.Option("--subject", "-s")] = None,
    body: Annotated[Path | None, typer.Option("--body", "-b", help="File with the body; - "
                                                                   "for standard input.")] = None,
    body_format: Annotated[BodyFormat | None, typer.Option("--format", "-f")] = None,
    from_name: Annotated[str | None, typer.Option("--from-name")] = None,
    from_email: Annotated[str | None, typer.Option("--from-email")] = None,
    reply_to: Annotated[str | None, typer.Option("--reply-to")] = None,
    template: Annotated[str | None, typer.Option(
        "--template", help="Layout template id, or 'default'.")] = None,
    segment: Annotated[str | None, typer.Option(
        "--segment", help="Segment id, or 'none' to target the lists only.")] = None,
    list_refs: Annotated[list[str] | None, typer.Option(
        "--list", "-l", help="Target list (repeatable; replaces the lists).")] = None,
    no_lists: Annotated[bool, typer.Option("--no-lists", help="Target the segment "
                                                              "only.")] = False,
) -> None:
    """Change a draft or scheduled campaign; options not given stay as they are."""
    lists: list[str] | Keep = [] if no_lists else (list(list_refs) if list_refs else KEEP)
    changed = campaigns.update(
        context.runtime().db, ref, name=KEEP if name is None else name,
        subject=KEEP if subject is None else subject,
        body=KEEP if body is None else read_text(body),
        body_format=KEEP if body_format is None else body_format,
        from_name=KEEP if from_name is None else from_name,
        from_email=KEEP if from_email is None else from_email,
        reply_to=KEEP if reply_to is None else reply_to,
        template_id=_template_id(template), segment_id=_segment_id(segment), lists=lists,
        actor="cli")
    console.print(f"Updated {changed.uid}.")


def schedule(
    ref: Annotated[str, typer.Argument(help="Campaign id.")],
    at: Annotated[str, typer.Option("--at", help="Local date and time, e.g. "
                                                 "'2026-05-01 08:00'.")],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone of --at, e.g. "
                                                 "Europe/Oslo.")] = "UTC",
) -> None:
    """Schedule a draft, or reschedule a scheduled or held campaign."""
    done = scheduling.schedule(context.runtime().db, ref, _when(at), tz, actor="cli")
    assert done.scheduled_at is not None
    local = done.scheduled_at.astimezone(zone(tz))
    console.print(f"Scheduled {done.uid} for {local:%Y-%m-%d %H:%M %Z} "
                  f"({done.scheduled_at:%Y-%m-%d %H:%M} UTC).")


def unschedule(ref: Annotated[str, typer.Argument(help="Campaign id.")]) -> None:
    """Turn a scheduled or held campaign back into a draft."""
    console.print(f"{scheduling.unschedule(context.runtime().db, ref, actor='cli').uid} "
                  "is a draft again.")


def held(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Campaigns held because their time passed while Tidings was down.

    Decide for each: `campaigns send ID` (now), `campaigns schedule ID --at ...`
    (later) or `campaigns cancel ID`.
    """
    found = scheduling.held(context.runtime().db)
    if as_json:
        print_json([details(c) for c in found])
        return
    table = Table("id", "name", "was due (UTC)", "held since (UTC)")
    for c in found:
        since = scheduling.held_since(c)
        table.add_row(c.uid, c.name, f"{c.scheduled_at:%Y-%m-%d %H:%M}",
                      f"{since:%Y-%m-%d %H:%M}" if since else "")
    console.print(table)


def clone(ref: Annotated[str, typer.Argument(help="Campaign id.")],
          name: Annotated[str | None, typer.Option("--name", "-n")] = None) -> None:
    """Copy a campaign into a new draft and print its id."""
    console.print(campaigns.clone(context.runtime().db, ref, name=name, actor="cli").uid)


def delete(
    ref: Annotated[str, typer.Argument(help="Campaign id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a draft."""
    db = context.runtime().db
    found = campaigns.get(db, ref)
    if not yes:
        typer.confirm(f"Delete the draft {found.name!r}?", abort=True)
    campaigns.delete(db, ref, actor="cli")
    console.print(f"Deleted {found.uid}.")


def preview(
    ref: Annotated[str, typer.Argument(help="Campaign id.")],
    subscriber: Annotated[str | None, typer.Option(
        "--subscriber", help="Address or id of the reader (default: an anonymous one).")] = None,
    part: Annotated[str, typer.Option("--part", help="html, text or headers.")] = "text",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this "
                                                                       "file.")] = None,
) -> None:
    """Show the message a reader would receive."""
    if part not in ("html", "text", "headers"):
        raise ValidationError("--part is html, text or headers.", field="part")
    runtime = context.runtime()
    found = campaigns.preview(runtime.db, ref, site=runtime.settings, tokens=runtime.tokens,
                              subscriber=subscriber)
    if part == "headers":
        shown = "\n".join(f"{name}: {value}" for name, value in found.headers)
    else:
        shown = found.html if part == "html" else found.text
    if output is not None:
        output.write_text(shown, encoding="utf-8")
        return
    typer.echo(shown)


def test(
    ref: Annotated[str, typer.Argument(help="Campaign id.")],
    addresses: Annotated[list[str], typer.Argument(help="Where to send the test (at most "
                                                        "ten).")],
) -> None:
    """Queue a test of the campaign to the given addresses ([Test] in the subject)."""
    queued = campaigns.send_test(context.runtime().db, ref, addresses, actor="cli")
    console.print(f"Queued {len(queued)} test message(s).")


def audience(ref: Annotated[str, typer.Argument(help="Campaign id.")]) -> None:
    """How many readers the campaign reaches (lists and segment)."""
    console.print(str(campaigns.audience_count(context.runtime().db, ref)))


def publish(
    ref: Annotated[str, typer.Argument(help="Campaign id.")],
    slug: Annotated[str | None, typer.Option("--slug", help="Address in the archive "
                                             "(default: from the name).")] = None,
) -> None:
    """Publish a campaign to the public archive (it shows once it has gone out)."""
    runtime = context.runtime()
    done = archive.publish(runtime.db, ref, slug=slug, actor="cli")
    console.print(f"{runtime.settings.base_url}/archive/{done.archive_slug}")


def unpublish(ref: Annotated[str, typer.Argument(help="Campaign id.")]) -> None:
    """Take a campaign off the public archive."""
    console.print(f"Unpublished {archive.unpublish(context.runtime().db, ref, actor='cli').uid}.")


def register(app: typer.Typer) -> None:
    """Add these commands to the ``campaigns`` group."""
    for name, command in (("show", show), ("edit", edit), ("schedule", schedule),
                          ("unschedule", unschedule), ("held", held), ("clone", clone),
                          ("delete", delete), ("preview", preview), ("test", test),
                          ("audience", audience), ("publish", publish),
                          ("unpublish", unpublish)):
        app.command(name)(command)
