"""CSV import and export on both databases: round trips, hostile files, modes, consent."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.databases import SQLiteTemplate, scratch_postgres
from tidings.bootstrap import Runtime
from tidings.db import consents, migrate
from tidings.db.database import Database, open_unpooled
from tidings.db.tables import consents as consents_table
from tidings.db.tables import events
from tidings.db.tables import lists as lists_table
from tidings.db.tables import subscribers as subscribers_table
from tidings.db.tables import subscriptions as subscriptions_table
from tidings.domain.errors import Conflict, NotFound, ValidationError
from tidings.domain.lists import OptIn
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.services import (
    data_rights,
    exports,
    import_jobs,
    imports,
    lists,
    subscribers,
    suppressions,
)
from tidings.services.imports import ImportMode, ImportOptions

CONFIRMED, UNCONFIRMED = SubscriptionStatus.CONFIRMED, SubscriptionStatus.UNCONFIRMED


def run(db: Database, data: bytes | str, **options: Any) -> tuple[imports.ImportResult,
                                                                 list[dict[str, str]]]:
    """Import ``data``; return the result and the report rows."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    report = io.StringIO()
    result = imports.run(db, io.BytesIO(raw), ImportOptions(**options), report=report)
    report.seek(0)
    return result, list(csv.DictReader(report))


def snapshot(db: Database) -> list[tuple[Any, ...]]:
    """Everything an import is meant to carry, independent of ids and timestamps."""
    with db.read() as conn:
        slugs = dict(conn.execute(select(lists_table.c.id, lists_table.c.slug)).all())
        subs: dict[int, list[tuple[str, str]]] = {}
        for row in conn.execute(select(subscriptions_table)):
            subs.setdefault(row.subscriber_id, []).append((slugs[row.list_id], row.status))
        return sorted(
            (r.email, r.name, json.dumps(r.attributes, sort_keys=True), r.status,
             tuple(sorted(subs.get(r.id, []))))
            for r in conn.execute(select(subscribers_table)))


def members(db: Database, slug: str) -> dict[str, str]:
    """``{email: subscription status}`` on one list."""
    with db.read() as conn:
        rows = conn.execute(
            select(subscribers_table.c.email, subscriptions_table.c.status)
            .join(subscriptions_table,
                  subscriptions_table.c.subscriber_id == subscribers_table.c.id)
            .join(lists_table, lists_table.c.id == subscriptions_table.c.list_id)
            .where(lists_table.c.slug == slug))
        return dict(rows.all())


@pytest.fixture
def db(runtime: Runtime) -> Database:
    lists.create(runtime.db, slug="daily", name="Daily", optin=OptIn.DOUBLE)
    lists.create(runtime.db, slug="weekly", name="Weekly", optin=OptIn.SINGLE)
    return runtime.db


@pytest.fixture
def fresh_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest
             ) -> Iterator[Database]:
    """A second, empty database of the same backend, with the same lists."""
    if backend == "sqlite":
        template: SQLiteTemplate = request.getfixturevalue("_sqlite_template")
        (tmp_path / "second").mkdir()
        url = template.fresh(tmp_path / "second")
        second = open_unpooled(url)
        lists.create(second, slug="daily", name="Daily", optin=OptIn.DOUBLE)
        lists.create(second, slug="weekly", name="Weekly", optin=OptIn.SINGLE)
        yield second
        second.dispose()
        return
    with scratch_postgres() as url:
        second = open_unpooled(url)
        migrate.upgrade(second)
        lists.create(second, slug="daily", name="Daily", optin=OptIn.DOUBLE)
        lists.create(second, slug="weekly", name="Weekly", optin=OptIn.SINGLE)
        yield second
        second.dispose()


def tidings_csv(rows: int, seed: int = 3) -> str:
    """A file in Tidings' own format with typed attributes, statuses and non-ASCII."""
    rng = random.Random(seed)
    names = ["Zoë", "Łukasz", "Nguyễn Văn", "王芳", "Ørjan", "O'Brien", "=1+2", "-Dash",
             "@handle", "'Quoted", "Ann", ""]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "name", "attributes", "status", "subscriptions"])
    statuses = ["confirmed", "unconfirmed", "unsubscribed"]
    for i in range(rows):
        attributes = {"n": i, "ratio": i / 7, "vip": i % 3 == 0, "city": rng.choice(
            ["Zürich", "Kraków", "東京", "Oslo"]), "tags": ["a", "b"][: i % 3],
            "nested": {"x": None, "y": [1, 2.5, "ü"]}} if i % 10 else {}
        subs = {slug: rng.choice(statuses) for slug in ("daily", "weekly") if rng.random() < 0.7}
        local = f"user{i}" if i % 17 else f"+plus{i}"
        writer.writerow([f"{local}@Example{i % 5}.org", f"{rng.choice(names)} {i}".strip(),
                         json.dumps(attributes, ensure_ascii=False),
                         "blocklisted" if i % 97 == 0 else "enabled", json.dumps(subs)])
    return out.getvalue()


@pytest.mark.slow
def test_import_export_import_is_lossless(db: Database, fresh_db: Database) -> None:
    source = tidings_csv(10_000)
    first, report = run(db, source)
    assert (first.imported, first.updated, first.skipped, report) == (10_000, 0, 0, [])
    exported = "".join(exports.export_csv(db))
    second, report = run(fresh_db, exported)
    assert (second.imported, second.skipped, report) == (10_000, 0, [])
    assert snapshot(fresh_db) == snapshot(db)
    assert len(snapshot(db)) == 10_000
    assert "".join(exports.export_csv(fresh_db)) == exported
    with db.read() as conn:
        sample = subscribers.find(conn, "user1@example1.org")
    assert sample.attributes["nested"] == {"x": None, "y": [1, 2.5, "ü"]}
    assert sample.attributes["vip"] is False and sample.attributes["n"] == 1


def test_export_filters_and_neutralises_formulas(db: Database) -> None:
    run(db, "email,name\n=cmd@example.com,=HYPERLINK(\"http://x\")\n"
            "plain@example.com,'Apostrophe\nsafe@example.com,Safe\n",
        lists=("daily",), status=CONFIRMED)
    run(db, "email\nsafe@example.com\n", lists=("daily",), mode=ImportMode.UNSUBSCRIBE)
    text = "".join(exports.export_csv(db, list_ref="daily", status=CONFIRMED))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["email"], r["name"]) for r in rows] == [
        ("'=cmd@example.com", "'=HYPERLINK(\"http://x\")"), ("plain@example.com", "''Apostrophe")]
    assert rows[0]["subscriptions"] == '{"daily":"confirmed"}'
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())
    everyone = list(csv.DictReader(io.StringIO("".join(exports.export_csv(db)))))
    assert len(everyone) == 3
    with pytest.raises(ValidationError):
        list(exports.batches(db, status=CONFIRMED))
    with pytest.raises(NotFound):
        exports.batches(db, list_ref="nope")
    blocked = "".join(exports.export_csv(db, status=SubscriberStatus.BLOCKLISTED))
    assert blocked.strip() == "email,name,attributes,status,subscriptions"


def hostile_corpus() -> tuple[bytes, dict[int, str], set[str]]:
    """The file, the reasons expected per reported line, and the addresses to import."""
    parts: list[tuple[bytes, str | None]] = [
        (b"\xef\xbb\xbfEmail Address,Name,City\r\n", None),
        (b"ann@example.com,Ann \xc3\x96,Oslo\r\n", None),
        (b"\r\n", None),
        (b'bob@example.com,"Bob "the" Builder",Rome\n', None),
        (b"carl@example.com,Carl\n", "Has 2 columns where the header has 3."),
        (b"dora@example.com,Dora,Paris,extra\n", "Has 4 columns where the header has 3."),
        (b"eve@example.com,Eve\x00,Rome\n", "Contains a NUL byte."),
        (b"frank@example.com,Frank," + b"x" * 1_000_000 + b"\n", "A line is longer than"),
        (b'gina@example.com,Gina,"' + b"y" * 200_000 + b'"\n', "A field is longer than"),
        (b'hal@example.com,"=HYPERLINK(""http://evil.example"",""x"")",Rome\n', None),
        (b"ida@example.com,Id\xe9,Rome\n", "Contains bytes that are not UTF-8."),
        (b'"jo\r\nhn@example.com",John,Rome\n', "Invalid email address"),
        (b"ANN@EXAMPLE.COM,Ann again,Oslo\n", "Duplicate of line 2"),
        (b"not-an-address,X,Y\n", "Invalid email address"),
        (b"kim@example.com," + b"K" * 201 + b",Rome\n", "The name is longer than 200"),
        (b",Nobody,Rome\n", "No email address."),
        (b",,\n", None),
        (b"\n", None),
        (b"a" * 300 + b"@example.com,Long,Rome\n", "Invalid email address"),
        (b"lea@example.com,\"Lea\"\"s\",=1+1\r\n", None),
        (b"zed@example.com,Zed,Rome", None),
    ]
    expected: dict[int, str] = {}
    line = 1
    for chunk, reason in parts:
        if reason is not None:
            expected[line] = reason
        line += chunk.count(b"\n") + (chunk.count(b"\r") - chunk.count(b"\r\n"))
    good = {"ann@example.com", "bob@example.com", "hal@example.com", "lea@example.com",
            "zed@example.com"}
    return b"".join(chunk for chunk, _ in parts), expected, good


def test_hostile_csv_reports_every_bad_row_and_loses_no_good_one(db: Database) -> None:
    data, expected, good = hostile_corpus()
    result, report = run(db, data, lists=("daily",))
    assert {int(r["line"]): r["reason"][:len(expected.get(int(r["line"]), ""))]
            for r in report} == expected
    assert [int(r["line"]) for r in report] == sorted(expected)
    assert set(members(db, "daily")) == good
    assert (result.imported, result.updated, result.skipped) == (len(good), 0, len(expected))
    with db.read() as conn:
        hal = subscribers.find(conn, "hal@example.com")
        bob = subscribers.find(conn, "bob@example.com")
        lea = subscribers.find(conn, "lea@example.com")
    assert hal.name == '=HYPERLINK("http://evil.example","x")'
    assert bob.name.startswith("Bob")
    assert lea.name == 'Lea"s' and lea.attributes == {"City": "=1+1"}
    by_line = {int(r["line"]): r for r in report}
    bad_bytes_line = next(n for n, why in expected.items() if "UTF-8" in why)
    assert by_line[bad_bytes_line]["email"] == "ida@example.com"
    crlf_line = next(n for n, r in by_line.items() if "hn@example.com" in r["email"])
    assert "\r" not in by_line[crlf_line]["email"] and "\\r\\n" in by_line[crlf_line]["email"]


def test_an_unclosed_quote_is_reported_with_the_lines_it_swallowed(db: Database) -> None:
    data = ('email,name\nann@example.com,Ann\nbad@example.com,"Unclosed\n'
            'lost@example.com,Lost\nmore@example.com,More\n')
    _, report = run(db, data, lists=("daily",))
    assert [(r["line"], r["email"]) for r in report] == [("3", "bad@example.com")]
    assert "spans lines 3-5" in report[0]["reason"]
    assert set(members(db, "daily")) == {"ann@example.com"}


@pytest.mark.parametrize(("header", "row", "name", "attributes"), [
    ("Email Address,First Name,Last Name,Phone Number,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,"
     "CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,"
     "LAST_CHANGED,LEID,EUID,NOTES,TAGS",
     "ann@example.com,Ann,Ø,+47 1,2,2020-01-01 10:00:00,192.0.2.1,2020-01-01 10:05:00,"
     "192.0.2.1,59.9,10.7,1,2,Europe/Oslo,NO,03,2021-01-01,123,456,note,\"a,b\"",
     "Ann Ø", {"Phone Number": "+47 1", "OPTIN_TIME": "2020-01-01 10:00:00",
               "OPTIN_IP": "192.0.2.1", "CONFIRM_TIME": "2020-01-01 10:05:00",
               "CONFIRM_IP": "192.0.2.1", "TAGS": "a,b"}),
    ("uuid,email,name,attributes,status,created_at,updated_at",
     'abc,ann@example.com,Ann,"{""age"": 41, ""vip"": true}",enabled,2020,2021',
     "Ann", {"age": 41, "vip": True}),
    ("E-Mail,Full Name,plan,empty", "ann@example.com,Ann A,gold,", "Ann A", {"plan": "gold"}),
    ("mail,fname,lname", "ann@example.com,Ann,", "Ann", {}),
    ("E-Mail;Name;Stadt", "ann@example.com;Ann;Zürich, Kreis 1", "Ann",
     {"Stadt": "Zürich, Kreis 1"}),
    ("email\tname\tcity", "ann@example.com\tAnn\tOslo", "Ann", {"city": "Oslo"}),
])
def test_header_variants(db: Database, header: str, row: str, name: str,
                         attributes: dict[str, Any]) -> None:
    result, report = run(db, f"{header}\n{row}\n", lists=("daily",))
    assert report == [] and result.imported == 1
    with db.read() as conn:
        ann = subscribers.find(conn, "ann@example.com")
    assert (ann.name, ann.attributes) == (name, attributes)
    if header.startswith("Email Address"):
        assert result.format == "mailchimp"
        assert {"LEID", "EUID", "MEMBER_RATING", "LATITUDE"} <= set(result.dropped_columns)


@pytest.mark.parametrize(("data", "options", "error"), [
    (b"", {"lists": ("daily",)}, ValidationError),
    (b"\n\n", {"lists": ("daily",)}, ValidationError),
    (b"name,city\nAnn,Oslo\n", {"lists": ("daily",)}, ValidationError),
    (b"email,City,city\na@example.com,x,y\n", {"lists": ("daily",)}, ValidationError),
    (b"em\xe9il\na@example.com\n", {"lists": ("daily",)}, ValidationError),
    (b"email\na@example.com\n", {}, ValidationError),
    (b"email\na@example.com\n", {"lists": ("nope",)}, NotFound),
    (b"email\na@example.com\n", {"lists": ("daily",), "mode": ImportMode.BLOCKLIST},
     ValidationError),
    (b"email\na@example.com\n", {"lists": ("daily",),
                                 "status": SubscriptionStatus.UNSUBSCRIBED}, ValidationError),
    (b"email\na@example.com\n", {"mode": ImportMode.UNSUBSCRIBE}, ValidationError),
])
def test_refused_imports_change_nothing(db: Database, data: bytes, options: dict[str, Any],
                                        error: type[Exception]) -> None:
    with pytest.raises(error):
        run(db, data, **options)
    assert snapshot(db) == []


def test_statuses_and_the_update_existing_rules(db: Database) -> None:
    run(db, "email,name,city\nann@example.com,Ann,Oslo\nbob@example.com,Bob,Rome\n"
            "cy@example.com,Cy,Bern\n", lists=("daily", "weekly"))
    # Double opt-in lists start unconfirmed, single opt-in lists confirmed.
    assert members(db, "daily") == dict.fromkeys(
        ["ann@example.com", "bob@example.com", "cy@example.com"], "unconfirmed")
    assert set(members(db, "weekly").values()) == {"confirmed"}
    run(db, "email\nbob@example.com\n", lists=("daily",), mode=ImportMode.UNSUBSCRIBE)

    again = "email,name,city\nANN@example.com,Anna,Paris\nbob@example.com,,\n"
    result, _ = run(db, again, lists=("daily",), status=CONFIRMED)
    assert (result.imported, result.updated, result.subscriptions) == (0, 2, 0)
    assert members(db, "daily")["ann@example.com"] == "unconfirmed"
    with db.read() as conn:
        ann = subscribers.find(conn, "ann@example.com")
    assert (ann.name, ann.attributes) == ("Ann", {"city": "Oslo"})

    result, _ = run(db, again, lists=("daily",), status=CONFIRMED, update_existing=True)
    assert (result.updated, result.subscriptions) == (2, 2)
    assert members(db, "daily") == {"ann@example.com": "confirmed",
                                    "bob@example.com": "confirmed",
                                    "cy@example.com": "unconfirmed"}
    with db.read() as conn:
        ann = subscribers.find(conn, "ann@example.com")
        bob = subscribers.find(conn, "bob@example.com")
    assert (ann.email, ann.name, ann.attributes) == ("ann@example.com", "Anna", {"city": "Paris"})
    assert (bob.name, bob.attributes) == ("Bob", {"city": "Rome"})  # empty cells: kept

    # Unconfirmed never downgrades a confirmed reader, nor resubscribes one who left.
    run(db, "email\nbob@example.com\n", lists=("daily",), mode=ImportMode.UNSUBSCRIBE)
    result, _ = run(db, "email\nann@example.com\nbob@example.com\n", lists=("daily",),
                    update_existing=True)
    assert result.subscriptions == 0
    assert members(db, "daily")["bob@example.com"] == "unsubscribed"


def test_unsubscribe_and_blocklist_modes(db: Database) -> None:
    run(db, "email\nann@example.com\nbob@example.com\n", lists=("daily", "weekly"),
        status=CONFIRMED)
    result, report = run(db, "email\nAnn@Example.com\nnobody@example.com\n",
                         lists=("daily",), mode=ImportMode.UNSUBSCRIBE)
    assert (result.imported, result.updated, result.skipped) == (0, 1, 1)
    assert report[0]["reason"] == "No subscriber has this address."
    assert members(db, "daily") == {"ann@example.com": "unsubscribed",
                                    "bob@example.com": "confirmed"}
    assert members(db, "weekly")["ann@example.com"] == "confirmed"
    assert subscribers.count(db) == 2

    result, _ = run(db, "email,name\nbob@example.com,Bobby\nnew@example.com,New\n",
                    mode=ImportMode.BLOCKLIST)
    assert (result.imported, result.updated) == (1, 1)
    with db.read() as conn:
        bob = subscribers.find(conn, "bob@example.com")
        new = subscribers.find(conn, "new@example.com")
    assert (bob.status, bob.name) == (SubscriberStatus.BLOCKLISTED, "")
    assert new.status is SubscriberStatus.BLOCKLISTED and new.name == "New"
    assert "new@example.com" not in members(db, "daily")


def test_suppressed_addresses_are_refused_never_resurrected(db: Database) -> None:
    with db.write() as conn:
        suppressions.suppress(conn, "Gone@Example.com", "erased")
    for mode, lists_ in ((ImportMode.SUBSCRIBE, ("daily",)), (ImportMode.BLOCKLIST, ())):
        _, report = run(db, "email\ngone@example.COM\nstay@example.com\n",
                             lists=lists_, mode=mode)
        assert [(r["line"], r["email"]) for r in report] == [("2", "gone@example.com")]
        assert "erased or suppressed" in report[0]["reason"]
    assert [row[0] for row in snapshot(db)] == ["stay@example.com"]


def test_consent_records_for_the_subscriptions_an_import_changes(db: Database) -> None:
    result, _ = run(db, "email\nann@example.com\nbob@example.com\n", lists=("daily", "weekly"),
                    status=CONFIRMED, user_id=7)
    # One record for the import, shared by the subscribers it added.
    assert (result.subscriptions, result.consents) == (4, 1)
    with db.read() as conn:
        ann = subscribers.find(conn, "ann@example.com")
        bob = subscribers.find(conn, "bob@example.com")
        records = consents.for_subscriber(conn, ann.id)
        ids = {r.consent_id for r in conn.execute(select(subscriptions_table))}
        daily, weekly = (lists.find(conn, s).id for s in ("daily", "weekly"))
    assert len(records) == 1
    shared = records[0]
    assert (shared["source"], shared["action"], shared["user_id"], shared["subscriber_id"]) == (
        "import", "subscribe", 7, None)
    assert sorted(shared["list_ids"]) == [daily, weekly]
    assert ids == {shared["id"]}
    # Nothing changes, so nothing is recorded; a change to a subscriber who existed is
    # recorded as their own, after the import's shared record.
    again, _ = run(db, "email\nann@example.com\n", lists=("daily", "weekly"), status=CONFIRMED)
    gone, _ = run(db, "email\nann@example.com\n", lists=("weekly",),
                  mode=ImportMode.UNSUBSCRIBE)
    assert (again.consents, gone.consents) == (0, 1)
    with db.read() as conn:
        mine = consents.for_subscriber(conn, ann.id)
        theirs = consents.for_subscriber(conn, bob.id)
        count = conn.execute(select(consents_table.c.id)).all()
        logged = conn.execute(select(events.c.data).where(
            events.c.kind == "subscribers.imported")).scalars().all()
    assert [(r["action"], r["subscriber_id"]) for r in mine] == [
        ("subscribe", None), ("unsubscribe", ann.id)]
    assert [r["id"] for r in theirs] == [shared["id"]]
    assert len(count) == 2
    assert [d["imported"] for d in logged] == [2, 0, 0]

    # The reader's data export shows the import's record; erasing one reader keeps it
    # (it names no one) for the others.
    exported = data_rights.export(db, bob.id)
    assert [(c["source"], c["action"], c["lists"]) for c in exported["consents"]] == [
        ("import", "subscribe", ["Daily", "Weekly"])]
    assert data_rights.erase(db, ann.id) is True
    with db.read() as conn:
        assert [r["id"] for r in consents.for_subscriber(conn, bob.id)] == [shared["id"]]
        assert conn.execute(select(consents_table.c.id).where(
            consents_table.c.subscriber_id == ann.id)).all() == []


def test_rows_name_their_own_lists_in_tidings_format(db: Database) -> None:
    data = ('email,name,attributes,status,subscriptions\n'
            'ann@example.com,Ann,{},enabled,"{""daily"": ""unsubscribed"", ""weekly"": '
            '""confirmed""}"\n'
            'bob@example.com,Bob,{},blocklisted,"{""gone"": ""confirmed""}"\n'
            'cy@example.com,Cy,{},enabled,"{""daily"": ""maybe""}"\n')
    _, report = run(db, data)
    assert [(r["line"], r["reason"]) for r in report] == [
        ("3", "No list 'gone': create it, then import again."),
        ("4", 'The subscriptions cell is not like {"list": "confirmed"}.')]
    assert members(db, "daily") == {"ann@example.com": "unsubscribed"}
    assert members(db, "weekly") == {"ann@example.com": "confirmed"}
    # With --list the column is ignored and the options decide.
    result, report = run(db, data.replace("ann@", "dan@"), lists=("daily",))
    assert (result.imported, report) == (3, [])  # dan, and bob and cy refused before
    assert "subscriptions" in result.dropped_columns
    assert members(db, "daily")["dan@example.com"] == "unconfirmed"
    assert members(db, "daily")["cy@example.com"] == "unconfirmed"


def test_a_job_keeps_its_row_up_to_date(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_jobs, "PROGRESS_EVERY", 0.0)
    data = ("email,name\n" + "".join(f"reader{i}@example.com,Réader {i}\n"
                                      for i in range(20_000)) + "broken,x\n").encode()
    job = import_jobs.create(db, filename="/uploads/../readers.csv",
                             options=ImportOptions(lists=("weekly",)),
                             total_bytes=len(data), created_by="admin@example.com")
    assert (job.status, job.filename, job.fraction) == ("queued", "readers.csv", 0.0)
    seen: list[import_jobs.ImportJob] = []

    class Watched(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            seen.append(import_jobs.get(db, job.uid))
            return super().read(size)

    done = import_jobs.run(db, job.uid, Watched(data))
    assert done.status == "finished" and done.error is None
    assert (done.imported, done.updated, done.skipped) == (20_000, 0, 1)
    assert done.processed_bytes == len(data) and done.finished_at is not None
    assert done.report is not None and "Invalid email address" in done.report
    running = [j for j in seen if j.status == "running"]
    assert any(0 < j.processed_bytes < len(data) for j in running)
    assert import_jobs.recent(db)[0].uid == job.uid
    with pytest.raises(Conflict):
        import_jobs.run(db, job.uid, io.BytesIO(data))

    failed = import_jobs.create(db, filename="x.csv", options=ImportOptions(lists=("weekly",)))
    end = import_jobs.run(db, failed.uid, io.BytesIO(b"name\nAnn\n"))
    assert end.status == "failed" and end.error is not None and "email column" in end.error
    with pytest.raises(NotFound):
        import_jobs.get(db, "nope")


def test_a_background_job_runs_a_saved_upload(db: Database, tmp_path: Path) -> None:
    upload = tmp_path / "upload.csv"
    upload.write_bytes(b"email\nann@example.com\n")
    job = import_jobs.create(db, filename="upload.csv", options=ImportOptions(lists=("daily",)))
    import_jobs.start(db, job.uid, upload).join(timeout=60)
    assert import_jobs.get(db, job.uid).imported == 1
    assert not upload.exists()


def test_an_erasure_during_the_import_refuses_it(db: Database) -> None:
    class ErasingMidway(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > 0 and not suppressions.is_suppressed(db, "late@example.com"):
                with db.write() as conn:
                    suppressions.suppress(conn, "late@example.com", "erased")
            return super().read(size)

    data = "email\nlate@example.com\n" + "".join(f"r{i}@example.com\n" for i in range(30_000))
    with pytest.raises(Conflict):
        imports.run(db, ErasingMidway(data.encode()), ImportOptions(lists=("daily",)))
    assert snapshot(db) == []
