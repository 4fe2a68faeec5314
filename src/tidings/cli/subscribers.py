"""``tidings subscribers``: one subscriber at a time, and bulk import and export."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tidings.cli import context
from tidings.cli.output import console, print_json
from tidings.domain.errors import ValidationError
from tidings.services import subscribers

app = typer.Typer(help="Add, show, delete, count, import and export subscribers.",
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
