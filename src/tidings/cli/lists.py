"""``tidings lists``: mailing lists."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tidings.cli import context
from tidings.cli.output import console, print_json
from tidings.domain.lists import OptIn, Visibility
from tidings.services import lists

app = typer.Typer(help="Create, show and delete mailing lists.", no_args_is_help=True)


@app.command("create")
def create(
    slug: Annotated[str, typer.Argument(help="Short name used in URLs and commands.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Title shown to readers.")] = "",
    description: Annotated[str, typer.Option("--description", "-d",
                                             help="What readers get.")] = "",
    double_optin: Annotated[bool, typer.Option(
        "--double-optin/--single-optin",
        help="Whether readers confirm by email before they are subscribed.")] = True,
    public: Annotated[bool, typer.Option(
        "--public/--private", help="Whether public signup forms offer the list.")] = True,
) -> None:
    """Create a list."""
    created = lists.create(
        context.runtime().db, slug=slug, name=name or slug, description=description,
        visibility=Visibility.PUBLIC if public else Visibility.PRIVATE,
        optin=OptIn.DOUBLE if double_optin else OptIn.SINGLE, actor="cli")
    console.print(f"Created list {created.slug} ({created.uid}).")


@app.command("list")
def list_all(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show every list with its member counts."""
    db = context.runtime().db
    found, counts = lists.all_lists(db), lists.counts(db)
    if as_json:
        print_json([{"slug": m.slug, "id": m.uid, "name": m.name, "visibility": m.visibility,
                     "optin": m.optin, "members": counts.get(m.id, {})} for m in found])
        return
    table = Table("slug", "name", "visibility", "opt-in", "confirmed", "unconfirmed",
                  "unsubscribed")
    for m in found:
        c = counts.get(m.id, {})
        table.add_row(m.slug, m.name, m.visibility, m.optin, str(c.get("confirmed", 0)),
                      str(c.get("unconfirmed", 0)), str(c.get("unsubscribed", 0)))
    console.print(table)


@app.command("show")
def show(ref: Annotated[str, typer.Argument(help="Slug or id of the list.")],
         as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show one list."""
    db = context.runtime().db
    found = lists.get(db, ref)
    members = lists.counts(db).get(found.id, {})
    data = {"slug": found.slug, "id": found.uid, "name": found.name,
            "description": found.description, "visibility": str(found.visibility),
            "optin": str(found.optin), "members": members,
            "created_at": found.created_at.isoformat()}
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/bold]: {value}")


@app.command("delete")
def delete(
    ref: Annotated[str, typer.Argument(help="Slug or id of the list.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a list and its subscriptions (the subscribers stay)."""
    db = context.runtime().db
    found = lists.get(db, ref)
    if not yes:
        typer.confirm(f"Delete the list {found.slug} and all its subscriptions?", abort=True)
    lists.delete(db, ref, actor="cli")
    console.print(f"Deleted list {found.slug}.")
