"""``tidings users``: admin accounts."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tidings.cli import context
from tidings.cli.output import console, print_json
from tidings.domain.errors import Conflict
from tidings.domain.roles import Role
from tidings.services import setup, team, users

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


@app.command("list")
def list_all(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show every admin account with its role and state."""
    found = team.all_users(context.runtime().db)
    if as_json:
        print_json([{"id": u.uid, "email": u.email, "name": u.name, "role": str(u.role),
                     "active": u.is_active, "two_factor": u.totp_enabled,
                     "last_login_at": u.last_login_at} for u in found])
        return
    table = Table("email", "name", "role", "active", "two-factor", "last sign-in")
    for u in found:
        table.add_row(u.email, u.name, str(u.role), "yes" if u.is_active else "no",
                      "on" if u.totp_enabled else "off",
                      f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never")
    console.print(table)


@app.command("reset-password")
def reset_password(
    email: Annotated[str, typer.Argument(help="Login address.")],
    password: Annotated[str, typer.Option(
        "--password", prompt=True, hide_input=True, confirmation_prompt=True,
        envvar="TIDINGS_NEW_PASSWORD", show_envvar=False,
        help="The new password (asked for when not given).")] = "",
) -> None:
    """Set a user's password and sign them out everywhere (their second factor stays)."""
    user = team.set_password(context.runtime().db, email, password, actor="cli")
    console.print(f"New password set for {user.email}; every session of theirs has ended.")


@app.command("disable")
def disable(email: Annotated[str, typer.Argument(help="Login address.")]) -> None:
    """Disable an account and end its sessions (the last administrator cannot be)."""
    user = team.set_active(context.runtime().db, email, False, actor="cli")
    console.print(f"Disabled {user.email}.")


@app.command("enable")
def enable(email: Annotated[str, typer.Argument(help="Login address.")]) -> None:
    """Enable a disabled account again."""
    user = team.set_active(context.runtime().db, email, True, actor="cli")
    console.print(f"Enabled {user.email}.")


@app.command("setup-link")
def setup_link() -> None:
    """Print the one-time link of the first-run setup page (fresh installs only)."""
    runtime = context.runtime()
    url = setup.link(runtime.db, runtime.settings.base_url, runtime.tokens)
    if url is None:
        raise Conflict("Setup is complete; sign in at /admin instead.")
    console.print(url, soft_wrap=True)
