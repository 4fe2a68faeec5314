"""``tidings users`` and the setup link, as real subprocesses."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import run


# The commands are thin over services tested on both databases; one backend suffices here.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_users_are_listed_reset_disabled_and_enabled(database_url: str) -> None:
    link = run(database_url, "users", "setup-link")
    assert link.returncode == 0 and "/admin/setup/" in link.stdout
    made = run(database_url, "users", "create", "boss@example.org", "--password", "first password")
    assert made.returncode == 0, made.stderr
    made = run(database_url, "users", "create", "ed@example.org", "--role", "editor",
               "--password", "first password")
    assert made.returncode == 0, made.stderr
    refused = run(database_url, "users", "setup-link")
    assert refused.returncode == 1 and "Setup is complete" in refused.stderr
    listed = json.loads(run(database_url, "users", "list", "--json").stdout)
    assert [(u["email"], u["role"], u["active"]) for u in listed] == [
        ("boss@example.org", "admin", True), ("ed@example.org", "editor", True)]
    reset = run(database_url, "users", "reset-password", "ed@example.org",
                "--password", "second password")
    assert reset.returncode == 0 and "every session" in reset.stdout
    assert run(database_url, "users", "disable", "ed@example.org").returncode == 0
    last = run(database_url, "users", "disable", "boss@example.org")
    assert last.returncode == 1 and "last active administrator" in last.stderr
    assert run(database_url, "users", "enable", "ed@example.org").returncode == 0
