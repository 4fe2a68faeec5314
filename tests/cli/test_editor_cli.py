"""The editors' commands as real subprocesses against a real database.

Each command is a thin layer over services tested on both databases; starting a
process costs seconds on a loaded machine, so these run on SQLite only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tests.cli.test_cli import run
from tests.support.databases import SQLiteTemplate
from tidings.db.database import open_unpooled
from tidings.db.tables import campaigns
from tidings.domain.lists import OptIn
from tidings.services import lists, scheduling, subscribers


@pytest.fixture
def database_url(_sqlite_template: SQLiteTemplate, tmp_path: Path) -> str:
    return _sqlite_template.fresh(tmp_path)


def readers(database_url: str, *people: tuple[str, str, dict[str, Any]]) -> None:
    """The list "news" and its confirmed readers, made in this process (it is faster)."""
    db = open_unpooled(database_url)
    try:
        lists.create(db, slug="news", name="News", optin=OptIn.SINGLE)
        for email, name, attributes in people:
            subscribers.add(db, email=email, name=name, attributes=attributes, lists=["news"],
                            preconfirmed=True)
    finally:
        db.dispose()


def ok(database_url: str, *args: str, stdin: str | None = None) -> str:
    result = run(database_url, *args, stdin=stdin)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout.strip()


def refused(database_url: str, *args: str) -> str:
    result = run(database_url, *args)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1
    return result.stderr


def test_templates_and_segments(database_url: str, tmp_path: Path) -> None:
    layout = tmp_path / "layout.html"
    layout.write_text("<html><body>\n{{ content }}\n{{ footer }}\n</body></html>")
    broken = tmp_path / "broken.html"
    broken.write_text("<p>{{ content }}</p>\n\n{% include 'x.html' %}\n")
    assert "line 3" in refused(database_url, "templates", "create", "Bad", "--file", str(broken))
    uid = ok(database_url, "templates", "create", "Plain", "--file", str(layout))
    ok(database_url, "templates", "default", uid)
    listed = json.loads(ok(database_url, "templates", "list", "--json"))
    assert {(t["name"], t["default"]) for t in listed} == {("Default", False), ("Plain", True)}
    assert "default" in refused(database_url, "templates", "delete", uid, "--yes")

    readers(database_url, ("ann@example.com", "Ann", {"city": "Oslo"}),
            ("bob@example.com", "Bob", {}))
    node = tmp_path / "oslo.json"
    node.write_text(json.dumps({"all": [{"field": "attributes.city", "op": "eq",
                                         "value": "Oslo"},
                                        {"field": "list", "op": "confirmed", "value": "news"}]}))
    segment = ok(database_url, "segments", "create", "Oslo", "--file", str(node))
    assert ok(database_url, "segments", "count", segment) == "1"
    bad = tmp_path / "bad.json"
    bad.write_text('{"any": [{"field": "attributes.city", "op": "near", "value": 1}]}')
    assert "$.any[0].op" in refused(database_url, "segments", "create", "Bad", "--file",
                                    str(bad))


def test_a_campaign_from_draft_to_archive(database_url: str, tmp_path: Path) -> None:
    readers(database_url, ("ann@example.com", "Ann Lie", {}))
    body = tmp_path / "body.md"
    body.write_text("Hello {{ subscriber.first_name }}!")
    uid = ok(database_url, "campaigns", "create", "--name", "Issue 1", "--subject", "News",
             "--list", "news", "--body", str(body))
    ok(database_url, "campaigns", "edit", uid, "--subject", "News for {{ subscriber.name }}",
       "--from-name", "The Desk")
    assert "line 1" in refused(database_url, "campaigns", "edit", uid, "--subject",
                               "{{ nobody }}")
    headers = ok(database_url, "campaigns", "preview", uid, "--subscriber", "ann@example.com",
                 "--part", "headers")
    assert "Subject: News for Ann Lie" in headers and "The Desk" in headers
    assert "Queued 1" in ok(database_url, "campaigns", "test", uid, "desk@example.com")
    assert "does not exist" in refused(database_url, "campaigns", "schedule", uid, "--at",
                                       "2099-03-29 02:30", "--tz", "Europe/Oslo")
    out = ok(database_url, "campaigns", "schedule", uid, "--at", "2099-03-29 08:00", "--tz",
             "Europe/Oslo")
    assert "08:00 CEST" in out and "06:00 UTC" in out
    shown = json.loads(ok(database_url, "campaigns", "show", uid, "--json"))
    assert shown["status"] == "scheduled" and shown["scheduled_at"].startswith(
        "2099-03-29T08:00:00+02:00")

    # The server was down when the time came: the tick holds it.
    db = open_unpooled(database_url)
    try:
        with db.write() as conn:
            conn.execute(update(campaigns).values(scheduled_at=datetime(2020, 1, 1, 8,
                                                                        tzinfo=UTC)))
        scheduling.run_due(db)
    finally:
        db.dispose()
    listed = json.loads(ok(database_url, "campaigns", "list", "--json"))
    assert listed[0]["status"] == "scheduled (held)"
    held = json.loads(ok(database_url, "campaigns", "held", "--json"))
    assert [c["id"] for c in held] == [uid]
    ok(database_url, "campaigns", "unschedule", uid)
    copy = ok(database_url, "campaigns", "clone", uid, "--name", "Issue 2")
    ok(database_url, "campaigns", "delete", copy, "--yes")
    assert "No campaign" in refused(database_url, "campaigns", "show", copy)
    url = ok(database_url, "campaigns", "publish", uid, "--slug", "issue-one")
    assert url.endswith("/archive/issue-one")


def test_feeds_refuse_private_addresses(database_url: str) -> None:
    readers(database_url)
    message = refused(database_url, "feeds", "add", "Column", "http://127.0.0.1:9/feed.xml",
                      "--list", "news", "--at", "07:30", "--tz", "Europe/Oslo")
    assert "private or reserved" in message
    assert json.loads(ok(database_url, "feeds", "list", "--json")) == []
