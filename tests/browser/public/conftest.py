"""Chromium (Debian's, through Playwright) against a real server, SMTP sink and worker."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import TEST_SECRET
from tests.support.services import need_chromium
from tests.support.smtp_sink import SmtpSink
from tidings import bootstrap, config
from tidings.bootstrap import Runtime
from tidings.web.app import create_app

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": need_chromium()}


@pytest.fixture(scope="session")
def base_url() -> str:
    """Unused (tests go to absolute addresses); replaces pytest-base-url's fixture."""
    return ""


@pytest.fixture(scope="module")
def chromium(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """Chromium for the tests of one module, stopped after them.

    Playwright's sync API keeps an event loop running in the main thread while it is
    started, and every ``asyncio.run()`` in that process fails meanwhile (the delivery
    tests use it). pytest-playwright's own browser lives for the whole session, so these
    tests start and stop Playwright themselves, unless another part of the suite has
    started pytest-playwright's already: then its browser is shared.
    """
    executable = need_chromium()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        shared: Browser = request.getfixturevalue("browser")
        yield shared
        return
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where this test leaves its screenshots."""
    path = ARTIFACTS / request.node.name.replace("[", "-").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    """A running Tidings: its address, runtime and the mail it sent."""

    url: str
    runtime: Runtime
    sink: SmtpSink


class Server:
    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def site(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Site]:
    """Tidings served on a loopback port that is also its public address, sending its
    transactional mail through the real worker to an SMTP sink. When the test also uses
    ``publisher``, that site is an allowed origin (``TIDINGS_CORS_ORIGINS``)."""
    from tidings.delivery import setup
    from tidings.delivery.inline import InlineWorker
    from tidings.delivery.worker import Worker

    port = free_port()
    cors = request.getfixturevalue("publisher").origin \
        if "publisher" in request.fixturenames else ""
    with SmtpSink() as sink:
        settings = config.load(
            environ={}, data_dir=tmp_path / "data", database_url=database_url,
            secret_key=TEST_SECRET, base_url=f"http://127.0.0.1:{port}", smtp_url=sink.url,
            cors_origins=cors)
        runtime = bootstrap.build(settings, pool_size=4)
        engine = setup.engine_for(runtime)
        worker = InlineWorker(lambda: Worker(engine, schedules=False, heartbeat=False))
        worker.start()
        try:
            with Server(create_app(runtime), port):
                yield Site(url=settings.base_url, runtime=runtime, sink=sink)
        finally:
            worker.stop()
            runtime.close()


class Publisher:
    """The publisher's own web site (another origin): serves whatever page it is given."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    found = Publisher()
    yield found
    found.close()
