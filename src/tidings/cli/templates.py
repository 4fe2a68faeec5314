"""``tidings templates``: the layouts campaigns are placed in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli import context
from tidings.cli.files import read_text
from tidings.cli.output import console, print_json
from tidings.services import templates

app = typer.Typer(help="Create, check and choose layout templates.", no_args_is_help=True)


@app.command("list")
def list_all(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
             ) -> None:
    """Every template; the default one is marked."""
    found = templates.all_templates(context.runtime().db)
    if as_json:
        print_json([{"id": t.uid, "name": t.name, "default": t.is_default,
                     "updated_at": t.updated_at.isoformat()} for t in found])
        return
    table = Table("id", "name", "default", "updated")
    for t in found:
        table.add_row(t.uid, t.name, "yes" if t.is_default else "",
                      f"{t.updated_at:%Y-%m-%d %H:%M}")
    console.print(table)


@app.command("show")
def show(ref: Annotated[str, typer.Argument(help="Template id.")]) -> None:
    """Print a template's source."""
    typer.echo(templates.get(context.runtime().db, ref).body)


@app.command("check")
def check(path: Annotated[Path, typer.Argument(help="File with the layout; - for standard "
                                                    "input.")]) -> None:
    """Check a layout without saving it: every problem with its line."""
    templates.check_source(read_text(path))
    console.print("The template is fine.")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Name shown to editors.")],
    path: Annotated[Path, typer.Option("--file", help="File with the layout; - for standard "
                                                      "input.")],
    default: Annotated[bool, typer.Option("--default", help="Make it the default.")] = False,
) -> None:
    """Save a new layout (refused, with the lines at fault, if it would not render)."""
    created = templates.create(context.runtime().db, name=name, body=read_text(path),
                               make_default=default, actor="cli")
    console.print(created.uid)


@app.command("edit")
def edit(
    ref: Annotated[str, typer.Argument(help="Template id.")],
    name: Annotated[str | None, typer.Option("--name", "-n")] = None,
    path: Annotated[Path | None, typer.Option("--file", help="File with the new source.")] = None,
) -> None:
    """Rename a template or replace its source."""
    changed = templates.update(context.runtime().db, ref, name=name,
                               body=None if path is None else read_text(path), actor="cli")
    console.print(f"Updated {changed.uid}.")


@app.command("default")
def make_default(ref: Annotated[str, typer.Argument(help="Template id.")]) -> None:
    """Make a template the default for new campaigns and digests."""
    chosen = templates.set_default(context.runtime().db, ref, actor="cli")
    console.print(f"{chosen.name} is the default template.")


@app.command("delete")
def delete(
    ref: Annotated[str, typer.Argument(help="Template id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a template that no campaign or feed uses."""
    db = context.runtime().db
    found = templates.get(db, ref)
    if not yes:
        typer.confirm(f"Delete the template {found.name!r}?", abort=True)
    templates.delete(db, ref, actor="cli")
    console.print(f"Deleted {found.uid}.")
