"""Whether the outside services tests need are here, and what to do when they are not.

With ``TIDINGS_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a missing service fails the
test; elsewhere the test is skipped with the reason shown in the summary.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get(
    "TIDINGS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CHROMIUM = os.environ.get("TIDINGS_TEST_CHROMIUM", "/usr/bin/chromium")
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"


def required() -> bool:
    return os.environ.get("TIDINGS_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Fail (services required) or skip (services optional) with ``reason``."""
    if required():
        pytest.fail(f"{reason} (TIDINGS_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_chromium() -> str:
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not installed at {CHROMIUM}")
    return CHROMIUM


def need_smtp_sink() -> tuple[str, str]:
    if not (Path(SMTP_SINK).exists() and Path(SMTP_SOURCE).exists()):
        unavailable("Postfix's smtp-sink/smtp-source are not installed")
    return SMTP_SINK, SMTP_SOURCE
