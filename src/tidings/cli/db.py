"""``tidings db``: the database schema."""

from __future__ import annotations

import typer

from tidings.cli import context
from tidings.cli.output import console
from tidings.db import migrate
from tidings.db.database import open_unpooled

app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply pending migrations."""
    db = open_unpooled(context.settings().database_url)
    try:
        applied = migrate.upgrade(db)
    finally:
        db.dispose()
    if applied:
        console.print(f"Applied {len(applied)} migration(s): {', '.join(applied)}.")
    else:
        console.print("The database is up to date.")


@app.command("status")
def status() -> None:
    """Show the schema revision and pending migrations."""
    db = open_unpooled(context.settings().database_url)
    try:
        current, waiting = migrate.current(db), migrate.pending(db)
    finally:
        db.dispose()
    console.print(f"Revision: {current or '(empty database)'}; head: {migrate.head()}.")
    console.print(f"Pending: {', '.join(waiting) if waiting else 'none'}.")
