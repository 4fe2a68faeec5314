"""``tidings worker``: the delivery worker alone, in the foreground."""

from __future__ import annotations

import asyncio
import signal

import typer

from tidings import bootstrap
from tidings.cli import context
from tidings.cli.output import console
from tidings.delivery import setup
from tidings.delivery.worker import Worker, new_loop


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)


def worker() -> None:
    """Send campaigns and transactional mail until stopped (Ctrl-C or SIGTERM)."""
    settings = context.settings()
    bootstrap.configure_logging(settings)
    runtime = context.runtime()
    engine = setup.engine_for(runtime)
    console.print(f"Tidings worker sending to {engine.transport.describe()}.")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Worker(engine).run(stop)

    loop = new_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
        runtime.close()
