"""The root ``tidings`` command and the mapping of errors to exit codes.

Exit codes: 0 success, 1 a domain error (one line on standard error),
2 a usage error (Click's own message).
"""

from __future__ import annotations

import sys

import typer

from tidings.cli import (
    campaign_drafts,
    campaigns,
    db,
    dkim,
    feeds,
    inbound,
    lists,
    segments,
    serve,
    subscribers,
    templates,
    users,
    worker,
)
from tidings.cli.output import errors
from tidings.domain.errors import TidingsError

app = typer.Typer(
    name="tidings",
    help="Tidings: a self-hosted newsletter platform for publishers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(lists.app, name="lists")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(users.app, name="users")
app.add_typer(campaigns.app, name="campaigns")
campaign_drafts.register(campaigns.app)
app.add_typer(templates.app, name="templates")
app.add_typer(segments.app, name="segments")
app.add_typer(feeds.app, name="feeds")
app.add_typer(inbound.app, name="inbound")
app.add_typer(dkim.app, name="dkim")
serve.register(app)
worker.register(app)


def main() -> None:
    """Entry point of the ``tidings`` script."""
    try:
        app()
    except TidingsError as exc:
        errors.print(f"error: {exc.message}", markup=False, soft_wrap=True)
        sys.exit(1)
