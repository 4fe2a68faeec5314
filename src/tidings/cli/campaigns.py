"""``tidings campaigns``: write, send and follow campaigns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli import context
from tidings.cli.output import console, print_json
from tidings.domain.campaigns import BodyFormat
from tidings.domain.errors import ValidationError
from tidings.services import campaigns

app = typer.Typer(help="Create, send and follow campaigns.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="Internal name.")],
    subject: Annotated[str, typer.Option("--subject", "-s", help="Subject (merge fields "
                                                                 "allowed).")],
    list_refs: Annotated[list[str], typer.Option("--list", "-l",
                                                 help="Target list (repeatable).")],
    body: Annotated[Path, typer.Option("--body", "-b", help="File with the body; - for "
                                                            "standard input.")],
    body_format: Annotated[BodyFormat, typer.Option("--format", "-f")] = BodyFormat.MARKDOWN,
) -> None:
    """Create a draft campaign and print its id."""
    try:
        text = typer.get_text_stream("stdin").read() if str(body) == "-" else \
            body.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Cannot read {body}: {exc}") from None
    created = campaigns.create(context.runtime().db, name=name, subject=subject, body=text,
                               body_format=body_format, lists=list_refs, actor="cli")
    console.print(created.uid)


@app.command("list")
def list_all(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
) -> None:
    """Show recent campaigns."""
    found = campaigns.recent(context.runtime().db, limit=limit)
    if as_json:
        print_json([{"id": c.uid, "name": c.name, "status": str(c.status), "sent": c.sent,
                     "failed": c.failed, "total": c.total} for c in found])
        return
    table = Table("id", "name", "status", "sent", "failed", "total")
    for c in found:
        table.add_row(c.uid, c.name, str(c.status), str(c.sent), str(c.failed), str(c.total))
    console.print(table)
