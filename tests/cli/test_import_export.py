"""``tidings subscribers import`` and ``export`` as real subprocesses."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.cli.test_cli import run


@pytest.fixture
def url(database_url: str) -> str:
    assert run(database_url, "lists", "create", "daily").returncode == 0
    return database_url


def test_import_prints_the_summary_and_writes_the_report(url: str, tmp_path: Path) -> None:
    source = tmp_path / "readers.csv"
    source.write_bytes("\ufeffEmail,Name,City\nann@example.com,Ann Ö,Oslo\nbroken,B,\n"
                       "ANN@example.com,Twice,\nbob@example.com,Bob,Rome\n".encode())
    report = tmp_path / "report.csv"
    result = run(url, "subscribers", "import", str(source), "--list", "daily", "--status",
                 "confirmed", "--report", str(report))
    assert result.returncode == 0, result.stderr
    assert "Imported 2, updated 0, skipped 2 of 4 rows (generic CSV)." in result.stdout
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert [(r["line"], r["email"]) for r in rows] == [("3", "broken"),
                                                       ("4", "ANN@example.com")]
    assert run(url, "subscribers", "count", "--list", "daily", "--status",
               "confirmed").stdout.strip() == "2"

    again = run(url, "subscribers", "import", str(source), "--list", "daily")
    assert again.returncode == 0
    assert "Imported 0, updated 2, skipped 2 of 4 rows" in again.stdout
    assert "line 3: Invalid email address" in again.stderr  # no --report: shown instead


def test_import_reads_standard_input_and_export_round_trips(url: str, tmp_path: Path) -> None:
    data = 'email,name,attributes\nzoe@example.com,Zoë,"{""n"": 1, ""ok"": true}"\n'
    result = run(url, "subscribers", "import", "-", "--list", "daily", stdin=data)
    assert result.returncode == 0, result.stderr
    assert "Imported 1," in result.stdout
    exported = run(url, "subscribers", "export", "--list", "daily")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert rows == [{"email": "zoe@example.com", "name": "Zoë",
                     "attributes": '{"n":1,"ok":true}', "status": "enabled",
                     "subscriptions": '{"daily":"unconfirmed"}'}]
    target = tmp_path / "all.csv"
    written = run(url, "subscribers", "export", "--output", str(target))
    assert written.returncode == 0 and "Exported 1 subscribers" in written.stdout
    assert target.read_text(encoding="utf-8") == exported.stdout


@pytest.mark.parametrize(("args", "code", "message"), [
    (("subscribers", "import", "missing.csv", "--list", "daily"), 1, "No such file"),
    (("subscribers", "import", "-", "--list", "nope"), 1, "No list"),
    (("subscribers", "import", "-"), 1, "--list"),
    (("subscribers", "import", "-", "--list", "daily", "--status", "unsubscribed"), 1,
     "--status"),
    (("subscribers", "import", "-", "--list", "daily", "--mode", "merge"), 2, ""),
    (("subscribers", "export", "--status", "confirmed"), 1, "Without a list"),
])
def test_refusals_exit_1_usage_errors_exit_2(database_url: str, args: tuple[str, ...],
                                             code: int, message: str) -> None:
    result = run(database_url, *args, stdin="email\nann@example.com\n")
    assert result.returncode == code, result.stderr
    if code == 1:
        assert result.stderr.startswith("error: ") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_without_an_email_column_is_refused(url: str) -> None:
    result = run(url, "subscribers", "import", "-", "--list", "daily", stdin="name\nAnn\n")
    assert result.returncode == 1
    assert "no email column" in result.stderr
