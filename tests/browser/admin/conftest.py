"""A running Tidings for the admin journeys: capture outbox, real worker, Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.public.conftest import (  # noqa: F401 (fixtures shared with the public journeys)
    Server,
    artifacts,
    base_url,
    browser_type_launch_args,
    free_port,
)
from tests.conftest import TEST_SECRET
from tidings import bootstrap, config
from tidings.bootstrap import Runtime
from tidings.web.app import create_app


@dataclass
class Admin:
    url: str
    runtime: Runtime


@pytest.fixture
def admin_site(database_url: str, tmp_path: Path) -> Iterator[Admin]:
    """Tidings with no relay (mail goes to the capture outbox) and its worker running."""
    from tidings.delivery import setup
    from tidings.delivery.inline import InlineWorker
    from tidings.delivery.worker import Worker

    port = free_port()
    settings = config.load(environ={}, data_dir=tmp_path / "data", database_url=database_url,
                           secret_key=TEST_SECRET, base_url=f"http://127.0.0.1:{port}")
    runtime = bootstrap.build(settings, pool_size=4)
    worker = InlineWorker(lambda: Worker(setup.engine_for(runtime), schedules=False,
                                         heartbeat=False))
    worker.start()
    try:
        with Server(create_app(runtime), port):
            yield Admin(url=settings.base_url, runtime=runtime)
    finally:
        worker.stop()
        runtime.close()
