"""The command line, run as a real subprocess against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update

from tidings.db.tables import subscriptions

ROOT = Path(__file__).resolve().parents[2]


def run(database_url: str, *args: str, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(TIDINGS_DATABASE_URL=database_url, TIDINGS_SECRET_KEY="cli-test-secret-0123456",
               PYTHONPATH=str(ROOT / "src"), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "tidings", *args], env=env, text=True,
                          capture_output=True, input=stdin, timeout=60, check=False)


def test_lists_and_subscribers_round_trip(database_url: str) -> None:
    assert run(database_url, "db", "upgrade").returncode == 0
    created = run(database_url, "lists", "create", "daily", "--name", "Daily News",
                  "--single-optin", "--private", "--description", "Every morning")
    assert created.returncode == 0, created.stderr
    shown = json.loads(run(database_url, "lists", "show", "daily", "--json").stdout)
    assert (shown["name"], shown["optin"], shown["visibility"]) == ("Daily News", "single",
                                                                    "private")
    added = run(database_url, "subscribers", "add", "Ann@Example.com", "--name", "Ann",
                "--list", "daily", "--attributes", '{"city": "Oslo"}')
    assert added.returncode == 0, added.stderr
    profile = json.loads(run(database_url, "subscribers", "show", "ann@example.com",
                             "--json").stdout)
    assert profile["attributes"] == {"city": "Oslo"}
    assert profile["subscriptions"][0]["status"] == "confirmed"
    assert run(database_url, "subscribers", "count", "--list", "daily", "--status",
               "confirmed").stdout.strip() == "1"
    assert run(database_url, "subscribers", "delete", "ann@example.com", "--yes").returncode == 0
    assert run(database_url, "lists", "delete", "daily", "--yes").returncode == 0
    assert json.loads(run(database_url, "lists", "list", "--json").stdout) == []


@pytest.mark.parametrize("args", [
    ("lists", "show", "missing"),
    ("subscribers", "add", "not-an-address"),
    ("subscribers", "add", "a@example.com", "--attributes", "{broken"),
    ("subscribers", "count", "--status", "sleepy"),
])
def test_domain_errors_exit_1_with_one_line(database_url: str, args: tuple[str, ...]) -> None:
    result = run(database_url, *args)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_duplicate_list_exits_1(database_url: str) -> None:
    assert run(database_url, "lists", "create", "x1").returncode == 0
    result = run(database_url, "lists", "create", "x1")
    assert result.returncode == 1
    assert "exists already" in result.stderr


@pytest.mark.parametrize("args", [("lists", "create"), ("nope",), ("lists", "create", "--bad")])
def test_usage_errors_exit_2(database_url: str, args: tuple[str, ...]) -> None:
    assert run(database_url, *args).returncode == 2


def test_help_everywhere(database_url: str) -> None:
    for args in [(), ("lists",), ("subscribers",), ("users",), ("db",), ("serve",),
                 ("lists", "create")]:
        result = run(database_url, *args, "--help")
        assert result.returncode == 0, args
        assert "Usage" in result.stdout


def test_users_create_hashes_with_argon2(database_url: str) -> None:
    from tidings.db.database import open_unpooled
    from tidings.db.users import get_by_email

    result = run(database_url, "users", "create", "Admin@Example.com", "--password",
                 "correct horse battery")
    assert result.returncode == 0, result.stderr
    db = open_unpooled(database_url)
    with db.read() as conn:
        user = get_by_email(conn, "admin@example.com")
    db.dispose()
    assert user is not None and user["password_hash"].startswith("$argon2id$")
    assert user["role"] == "admin"
    assert run(database_url, "users", "create", "x@example.com", "--password",
               "short").returncode == 1


def test_purge_unconfirmed_counts_then_removes(database_url: str) -> None:
    assert run(database_url, "db", "upgrade").returncode == 0
    assert run(database_url, "lists", "create", "daily", "--name", "Daily").returncode == 0
    for email in ("old@example.com", "new@example.com"):
        assert run(database_url, "subscribers", "add", email, "--list", "daily",
                   "--unconfirmed").returncode == 0
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(update(subscriptions).where(subscriptions.c.subscriber_id == 1)
                     .values(updated_at=datetime.now(UTC) - timedelta(days=10)))
    engine.dispose()

    dry = run(database_url, "subscribers", "purge-unconfirmed", "--older-than", "7",
              "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Would remove 1 subscriptions unconfirmed for 7 days" in dry.stdout
    assert "and 0 subscribers" in dry.stdout  # added by hand, not a signup: kept
    assert run(database_url, "subscribers", "count", "--list", "daily").stdout.strip() == "2"
    assert "Removed 0 subscriptions" in run(database_url, "subscribers",
                                            "purge-unconfirmed").stdout  # 30 days
    done = run(database_url, "subscribers", "purge-unconfirmed", "--older-than", "7")
    assert "Removed 1 subscriptions" in done.stdout, done.stderr
    assert run(database_url, "subscribers", "count", "--list", "daily").stdout.strip() == "1"
    assert run(database_url, "subscribers", "purge-unconfirmed", "--older-than",
               "0").returncode == 2
