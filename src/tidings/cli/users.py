"""``tidings users``: admin accounts."""

from __future__ import annotations

from typing import Annotated

import typer

from tidings.cli import context
from tidings.cli.output import console
from tidings.domain.roles import Role
from tidings.services import users

app = typer.Typer(help="Manage admin accounts.", no_args_is_help=True)


@app.command("create")
def create(
    email: Annotated[str, typer.Argument(help="Login address.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Display name.")] = "",
    role: Annotated[Role, typer.Option("--role", "-r", help="admin, editor or viewer.")
                    ] = Role.ADMIN,
    password: Annotated[str, typer.Option(
        "--password", prompt=True, hide_input=True, confirmation_prompt=True,
        envvar="TIDINGS_NEW_PASSWORD", show_envvar=False,
        help="The password (asked for when not given).")] = "",
) -> None:
    """Create an admin user (the first one is usually an admin)."""
    user = users.create(context.runtime().db, email=email, password=password, name=name,
                        role=role, actor="cli")
    console.print(f"Created {user['role']} {user['email']}.")
