"""``tidings subscribers``: one subscriber at a time, and bulk import and export."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from tidings.cli import context
from tidings.cli.output import console, errors, print_json
from tidings.domain.errors import TidingsError, ValidationError
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.services import exports, imports, subscribers, unconfirmed

if TYPE_CHECKING:
    from tidings.db.database import Database

app = typer.Typer(help="Add, show, delete, count, import, export and purge subscribers.",
                  no_args_is_help=True)


@app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="The address.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Display name.")] = "",
    list_refs: Annotated[list[str] | None, typer.Option(
        "--list", "-l", help="Subscribe to this list (repeatable).")] = None,
    confirmed: Annotated[bool, typer.Option(
        "--confirmed/--unconfirmed",
        help="Subscribe as confirmed (you hold their consent) or send them through "
             "double opt-in.")] = False,
    attributes: Annotated[str, typer.Option(
        "--attributes", "-a", help="Attributes as a JSON object.")] = "{}",
) -> None:
    """Add a subscriber."""
    try:
        attrs = json.loads(attributes)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--attributes is not valid JSON: {exc.msg}") from None
    created = subscribers.add(
        context.runtime().db, email=email, name=name, attributes=attrs,
        lists=list_refs or [], preconfirmed=confirmed, source="cli", actor="cli",
    )
    console.print(f"Added {created.email} ({created.uid}).")


@app.command("show")
def show(ref: Annotated[str, typer.Argument(help="Address or id.")],
         as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show a subscriber and their subscriptions."""
    found = subscribers.profile(context.runtime().db, ref)
    s = found.subscriber
    subscriptions = [
        {"list": found.lists[lid].slug, "status": str(sub.status),
         "confirmed_at": sub.confirmed_at.isoformat() if sub.confirmed_at else None,
         "unsubscribed_at": sub.unsubscribed_at.isoformat() if sub.unsubscribed_at else None}
        for lid, sub in sorted(found.subscriptions.items())
    ]
    data = {
        "id": s.uid, "email": s.email, "name": s.name, "status": str(s.status),
        "attributes": s.attributes, "created_at": s.created_at.isoformat(),
        "subscriptions": subscriptions,
    }
    if as_json:
        print_json(data)
        return
    for key in ("id", "email", "name", "status", "created_at"):
        console.print(f"[bold]{key}[/bold]: {data[key]}", markup=True)
    console.print(f"[bold]attributes[/bold]: {json.dumps(s.attributes, ensure_ascii=False)}")
    for sub in subscriptions:
        console.print(f"  {sub['list']}: {sub['status']}")


@app.command("delete")
def delete(
    ref: Annotated[str, typer.Argument(help="Address or id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a subscriber with their subscriptions and history."""
    db = context.runtime().db
    found = subscribers.get(db, ref)
    if not yes:
        typer.confirm(f"Delete {found.email} and their history?", abort=True)
    subscribers.delete(db, ref, actor="cli")
    console.print(f"Deleted {found.email}.")


@app.command("count")
def count(
    list_ref: Annotated[str | None, typer.Option("--list", "-l", help="Count a list's members.")
                        ] = None,
    status: Annotated[str | None, typer.Option(
        "--status", "-s", help="enabled|blocklisted, or with --list: "
                               "unconfirmed|confirmed|unsubscribed.")] = None,
) -> None:
    """Count subscribers."""
    parsed = subscribers.subscription_status(status) if status else None
    console.print(str(subscribers.count(context.runtime().db, list_ref=list_ref, status=parsed)))


@app.command("purge-unconfirmed")
def purge_unconfirmed(
    older_than: Annotated[int | None, typer.Option(
        "--older-than", min=1, metavar="DAYS",
        help="Age in days (default: the signup.purge_unconfirmed_days setting).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Count what would go, change nothing.")] = False,
) -> None:
    """Remove subscriptions nobody confirmed, and the readers left with nothing."""
    done = unconfirmed.purge(context.runtime().db, older_than_days=older_than,
                             dry_run=dry_run, actor="cli")
    if not done.days:
        console.print("Purging unconfirmed signups is off "
                      f"({unconfirmed.SETTING} = 0); nothing removed.")
        return
    verb = "Would remove" if dry_run else "Removed"
    console.print(f"{verb} [bold]{done.subscriptions}[/bold] subscriptions unconfirmed for "
                  f"{done.days} days or more and [bold]{done.subscribers}[/bold] subscribers "
                  "who never confirmed.")


@app.command("import")
def import_csv(
    file: Annotated[str, typer.Argument(help="CSV file to read, or - for standard input.")],
    list_refs: Annotated[list[str] | None, typer.Option(
        "--list", "-l", help="List to subscribe to or unsubscribe from (repeatable).")] = None,
    mode: Annotated[imports.ImportMode, typer.Option(
        "--mode", "-m", help="subscribe, unsubscribe or blocklist.")
    ] = imports.ImportMode.SUBSCRIBE,
    status: Annotated[str, typer.Option(
        "--status", "-s", help="New subscriptions start unconfirmed or confirmed (you hold "
                               "the readers' confirmed consent).")] = "unconfirmed",
    update_existing: Annotated[bool, typer.Option(
        "--update-existing", help="Overwrite name, attributes and status of subscribers "
                                  "who exist, and move their subscriptions.")] = False,
    report: Annotated[Path | None, typer.Option(
        "--report", "-r", help="Write every skipped row (line, email, reason) to this CSV "
                               "file.")] = None,
) -> None:
    """Import subscribers from a CSV file (see docs/importing.md)."""
    if status not in ("unconfirmed", "confirmed"):
        raise ValidationError("--status is unconfirmed or confirmed.", field="status")
    options = imports.ImportOptions(
        lists=tuple(list_refs or ()), mode=mode, status=SubscriptionStatus(status),
        update_existing=update_existing, actor="cli")
    db = context.runtime().db
    if file == "-":
        result = _run_import(db, sys.stdin.buffer, None, options, report, "stdin")
    else:
        path = Path(file)
        if not path.is_file():
            raise ValidationError(f"No such file: {file}", field="file")
        with path.open("rb") as stream:
            result = _run_import(db, stream, path.stat().st_size, options, report, path.name)
    console.print(f"Imported {result.imported:,}, updated {result.updated:,}, "
                  f"skipped {result.skipped:,} of {result.rows:,} rows "
                  f"({result.format} CSV).")
    if result.dropped_columns:
        console.print("Columns not imported: " + ", ".join(result.dropped_columns) + ".",
                      markup=False)
    if result.skipped and report is None:
        for problem in result.problems[:10]:
            errors.print(f"line {problem.line}: {problem.reason}", markup=False,
                         soft_wrap=True)
        if result.skipped > 10:
            errors.print(f"... and {result.skipped - 10:,} more; --report FILE lists them all.")
    elif result.skipped:
        console.print(f"Skipped rows are listed in {report}.", markup=False)


def _run_import(db: Database, stream: BinaryIO, total: int | None,
                options: imports.ImportOptions, report: Path | None,
                filename: str) -> imports.ImportResult:
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeElapsedColumn(), console=errors,
                  transient=True, disable=not errors.is_terminal) as bar:
        task = bar.add_task("reading", total=total)

        def progress(now: imports.Progress) -> None:
            bar.update(task, completed=now.bytes_read,
                       description="writing" if now.phase == "merging" else now.phase)

        if report is None:
            return imports.run(db, stream, options, progress=progress, filename=filename)
        try:
            with report.open("w", encoding="utf-8", newline="") as out:
                return imports.run(db, stream, options, progress=progress, report=out,
                                   filename=filename)
        except TidingsError:
            report.unlink(missing_ok=True)  # refused: there is nothing to report
            raise


@app.command("export")
def export_csv(
    list_ref: Annotated[str | None, typer.Option(
        "--list", "-l", help="Only this list's members.")] = None,
    status: Annotated[str | None, typer.Option(
        "--status", "-s", help="enabled|blocklisted, or with --list: "
                               "unconfirmed|confirmed|unsubscribed.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file instead of standard output.")] = None,
) -> None:
    """Export subscribers as CSV, in the format import reads back."""
    db = context.runtime().db
    parsed = subscribers.subscription_status(status) if status else None
    chunks = exports.batches(db, list_ref=list_ref, status=parsed)
    if output is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk.text.encode("utf-8"))
        sys.stdout.buffer.flush()
        return
    total = subscribers.count(db, list_ref=list_ref, status=parsed)
    written = 0
    with output.open("w", encoding="utf-8", newline="") as out, Progress(
            TextColumn("exporting"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
            TimeElapsedColumn(), console=errors, transient=True,
            disable=not errors.is_terminal) as bar:
        task = bar.add_task("export", total=total)
        for chunk in chunks:
            out.write(chunk.text)
            written += chunk.rows
            bar.update(task, completed=written)
    console.print(f"Exported {written:,} subscribers to {output}.", markup=False)
