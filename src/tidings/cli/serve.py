"""``tidings serve``: the web app (and, by default, the delivery worker) in one process."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from tidings import bootstrap
from tidings.cli import context
from tidings.cli.output import console
from tidings.delivery import setup as delivery_setup
from tidings.delivery.inline import InlineWorker
from tidings.delivery.worker import Worker
from tidings.services import setup
from tidings.web.app import create_app


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (TIDINGS_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (TIDINGS_PORT).")] = None,
) -> None:
    """Apply pending migrations, then serve the web app (and send mail, unless
    TIDINGS_INLINE_WORKER is false)."""
    settings = context.settings()
    bootstrap.configure_logging(settings)
    runtime = bootstrap.prepare(settings)
    web = create_app(runtime)
    bind_host, bind_port = host or settings.host, port or settings.port
    listening = f"http://{bind_host}:{bind_port}"
    public = "" if settings.base_url.rstrip("/") == listening \
        else f" (public address {settings.base_url})"
    console.print(f"Tidings is listening on {listening}{public}.", soft_wrap=True)
    setup_url = setup.link(runtime.db, settings.base_url, runtime.tokens)
    if setup_url is not None:
        console.print("No administrator yet. Open this one-time link to set Tidings up "
                      f"(valid 24 hours):\n  {setup_url}", soft_wrap=True)
    inline = InlineWorker(lambda: Worker(delivery_setup.engine_for(runtime))) \
        if settings.inline_worker else None
    if inline is not None:
        inline.start()
    try:
        uvicorn.run(web, host=bind_host, port=bind_port, log_level=settings.log_level,
                    proxy_headers=True, server_header=False)
    finally:
        if inline is not None:
            inline.stop()
