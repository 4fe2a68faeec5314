"""Fixtures shared by the whole suite: real databases, settings, the app, an SMTP sink.

Tests that take ``database_url`` (directly or through ``runtime``, ``client``, ...)
run once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.databases import PostgresDatabase, SQLiteTemplate
from tests.support.smtp_sink import SmtpSink
from tidings import bootstrap, config
from tidings.bootstrap import Runtime
from tidings.config import Settings
from tidings.web.app import create_app

BACKENDS = ("sqlite", "postgresql")
TEST_SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TIDINGS_* setting from the caller's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("TIDINGS_") and not name.startswith("TIDINGS_TEST") \
                and name != "TIDINGS_REQUIRE_SERVICES":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SQLiteTemplate:
    return SQLiteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def _postgres() -> Iterator[PostgresDatabase]:
    database = PostgresDatabase()
    yield database
    database.drop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of the current backend."""
    if backend == "sqlite":
        template: SQLiteTemplate = request.getfixturevalue("_sqlite_template")
        return template.fresh(tmp_path)
    postgres: PostgresDatabase = request.getfixturevalue("_postgres")
    return postgres.fresh()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return config.load(
        environ={}, data_dir=tmp_path / "data", database_url=database_url,
        secret_key=TEST_SECRET, base_url="https://news.example.org",
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = bootstrap.build(settings, pool_size=4)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://news.example.org") as test_client:
        yield test_client


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, for browsers and load."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


# Every browser test gets a Playwright that stops after its module (see the module).
from tests.support.browser import chromium, page  # noqa: E402, F401
