"""``tidings inbound``: bounce and complaint intake."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from tidings.cli import context
from tidings.cli.output import console
from tidings.domain.errors import ValidationError
from tidings.inbound import intake, server

app = typer.Typer(help="Receive bounces and complaint reports.", no_args_is_help=True)


@app.command("serve")
def serve(
    listen: Annotated[str, typer.Option(help="HOST:PORT to accept mail on.")] = "127.0.0.1:2525",
) -> None:
    """Run the SMTP intake for VERP bounce addresses and the complaint mailbox."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValidationError("--listen takes HOST:PORT, e.g. 0.0.0.0:25.")
    runtime = context.runtime()
    intake_server = server.controller(runtime.db, runtime.tokens, host, int(port))
    intake_server.start()
    console.print(f"Accepting bounces and complaints on {host}:{port}.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        intake_server.stop()


@app.command("process")
def process(
    source: Annotated[Path, typer.Argument(help="A raw message file; - for standard input.")],
    to: Annotated[str, typer.Option(
        "--to", help="The envelope recipient (the VERP address), if known.")] = "",
) -> None:
    """Process one bounce or complaint (for piping from a local MTA)."""
    try:
        raw = sys.stdin.buffer.read() if str(source) == "-" else source.read_bytes()
    except OSError as exc:
        raise ValidationError(f"Cannot read {source}: {exc.strerror}") from None
    runtime = context.runtime()
    report = intake.process(runtime.db, runtime.tokens, raw, envelope_to=to)
    kinds = ", ".join(str(f.kind) for f in report.failures) or "nothing"
    who = f"subscriber {report.subscriber_id}" if report.subscriber_id else "no known subscriber"
    console.print(f"{report.source}: {kinds} ({who}).")
