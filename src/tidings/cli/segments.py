"""``tidings segments``: saved filters over subscribers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli import context
from tidings.cli.files import read_json
from tidings.cli.output import console, print_json
from tidings.domain.errors import ValidationError
from tidings.services import segments

app = typer.Typer(help="Save, count and delete segments (JSON filters).",
                  no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Name shown to editors.")],
    path: Annotated[Path, typer.Option("--file", help="JSON filter; - for standard input.")],
) -> None:
    """Save a segment from a JSON filter file and print its id."""
    created = segments.create(context.runtime().db, name=name, filter=read_json(path),
                              actor="cli")
    console.print(created.uid)


@app.command("list")
def list_all(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
             ) -> None:
    """Every segment."""
    found = segments.all_segments(context.runtime().db)
    if as_json:
        print_json([{"id": s.uid, "name": s.name, "filter": s.filter} for s in found])
        return
    table = Table("id", "name", "updated")
    for s in found:
        table.add_row(s.uid, s.name, f"{s.updated_at:%Y-%m-%d %H:%M}")
    console.print(table)


@app.command("show")
def show(ref: Annotated[str, typer.Argument(help="Segment id.")]) -> None:
    """Print a segment's filter as JSON."""
    found = segments.get(context.runtime().db, ref)
    print_json({"id": found.uid, "name": found.name, "filter": found.filter})


@app.command("edit")
def edit(
    ref: Annotated[str, typer.Argument(help="Segment id.")],
    name: Annotated[str | None, typer.Option("--name", "-n")] = None,
    path: Annotated[Path | None, typer.Option("--file", help="New JSON filter.")] = None,
) -> None:
    """Rename a segment or replace its filter."""
    changed = segments.update(context.runtime().db, ref, name=name,
                              filter=None if path is None else read_json(path), actor="cli")
    console.print(f"Updated {changed.uid}.")


@app.command("count")
def count(
    ref: Annotated[str | None, typer.Argument(help="Segment id.")] = None,
    path: Annotated[Path | None, typer.Option("--file", help="Count a JSON filter "
                                                             "instead.")] = None,
) -> None:
    """How many subscribers match a segment (or a filter file) now."""
    db = context.runtime().db
    if (ref is None) == (path is None):
        raise ValidationError("Give a segment id or --file, not both.")
    node = read_json(path) if path is not None else segments.get(db, str(ref)).filter
    console.print(str(segments.count(db, node)))


@app.command("delete")
def delete(
    ref: Annotated[str, typer.Argument(help="Segment id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a segment no unfinished campaign uses."""
    db = context.runtime().db
    found = segments.get(db, ref)
    if not yes:
        typer.confirm(f"Delete the segment {found.name!r}?", abort=True)
    segments.delete(db, ref, actor="cli")
    console.print(f"Deleted {found.uid}.")
