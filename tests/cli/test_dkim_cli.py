"""``tidings dkim``: the key it stores signs mail that verifies against the record it prints."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import run
from tests.mail.test_dkim import verifies
from tidings.db.database import open_unpooled
from tidings.mail import dkim
from tidings.services import dkim_keys, runtime_settings

MESSAGE = (b"From: Letters <letters@news.example.org>\r\nTo: ann@example.com\r\n"
           b"Subject: Hello\r\nDate: Sun, 29 Nov 2026 12:00:00 +0000\r\n"
           b"Message-ID: <1@news.example.org>\r\n\r\nHello, Ann.\r\n")


def printed_record(stdout: str) -> tuple[str, str]:
    """The DNS name and TXT value ``tidings dkim generate`` said to publish."""
    lines = stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Publish this TXT record"))
    return lines[at].rsplit(" ", 1)[1].rstrip(":"), lines[at + 1]


@pytest.mark.parametrize(("option", "algorithm"), [("rsa", "rsa-sha256"),
                                                   ("ed25519", "ed25519-sha256")])
def test_generate_stores_a_key_that_verifies_with_the_printed_record(
        database_url: str, option: str, algorithm: str) -> None:
    assert run(database_url, "db", "upgrade").returncode == 0
    made = run(database_url, "dkim", "generate", "--domain", "News.Example.org.",
               "--selector", "s2026", "--algorithm", option)
    assert made.returncode == 0, made.stderr
    name, record = printed_record(made.stdout)
    assert name == "s2026._domainkey.news.example.org"
    assert record.startswith(f"v=DKIM1; k={option.removesuffix('-sha256')}; p=")
    assert f"{name}. IN TXT (" in made.stdout  # the zone file line

    db = open_unpooled(database_url)
    try:
        keys = dkim.keys_from_setting(runtime_settings.get(db, dkim_keys.SETTING))
    finally:
        db.dispose()
    assert [(k.domain, k.selector, k.algorithm.value) for k in keys] == [
        ("news.example.org", "s2026", algorithm)]
    signed = dkim.DkimSigner(*keys).sign(MESSAGE)

    def lookup(qname: bytes, timeout: int = 5) -> bytes | None:
        return record.encode() if qname == f"{name}.".encode() else None

    assert verifies(signed, lookup)
    assert not verifies(signed.replace(b"Hello, Ann.", b"Hello, Bob."), lookup)


def test_list_generate_twice_and_remove(database_url: str) -> None:
    assert run(database_url, "db", "upgrade").returncode == 0
    empty = run(database_url, "dkim", "list")
    assert empty.returncode == 0 and "No DKIM keys" in empty.stdout
    assert run(database_url, "dkim", "generate", "-d", "example.org", "-s", "a",
               "-a", "ed25519").returncode == 0
    again = run(database_url, "dkim", "generate", "-d", "example.org", "-s", "a")
    assert again.returncode == 1
    assert "a._domainkey.example.org already" in again.stderr
    assert run(database_url, "dkim", "generate", "-d", "example.org", "-s", "b",
               "-a", "dsa").returncode == 2
    assert run(database_url, "dkim", "generate", "-d", "not a domain", "-s",
               "b").returncode == 1
    assert run(database_url, "dkim", "generate", "-d", "example.org", "-s",
               "b").returncode == 0

    listed = json.loads(run(database_url, "dkim", "list", "--json").stdout)
    assert [(k["selector"], k["algorithm"], k["dns_name"]) for k in listed] == [
        ("a", "ed25519-sha256", "a._domainkey.example.org"),
        ("b", "rsa-sha256", "b._domainkey.example.org")]
    assert all("private" not in json.dumps(k).lower() for k in listed)
    table = run(database_url, "dkim", "list").stdout
    assert "a._domainkey.example.org" in table and "rsa-sha256" in table

    assert run(database_url, "dkim", "remove", "-d", "Example.org", "-s", "a").returncode == 0
    assert run(database_url, "dkim", "remove", "-d", "example.org", "-s", "a").returncode == 1
    listed = json.loads(run(database_url, "dkim", "list", "--json").stdout)
    assert [k["selector"] for k in listed] == ["b"]
