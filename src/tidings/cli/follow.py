"""Following a campaign's sending with a Rich progress bar.

When a worker runs elsewhere (``tidings serve`` or ``tidings worker``: its heartbeat
is fresh) the bar only reads the campaign row. Otherwise this process sends the
campaign itself, so ``tidings campaigns send ID --wait`` works on its own.
"""

from __future__ import annotations

import asyncio
import contextlib

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tidings.bootstrap import Runtime
from tidings.cli.output import console
from tidings.delivery import setup
from tidings.delivery.worker import Worker, new_loop, workers_alive
from tidings.services import campaigns, sending

REFRESH = 0.5


def follow(runtime: Runtime, ref: str) -> sending.Progress:
    """Show progress until the campaign is finished, paused or cancelled."""
    campaign = campaigns.get(runtime.db, ref)
    worker = None if workers_alive(runtime.db) else Worker(
        setup.engine_for(runtime), campaign_ids=[campaign.id], outbox=False,
        schedules=False, heartbeat=False)
    if worker is not None:
        console.print("No worker is running: sending from this process.")
    loop = new_loop()
    try:
        return loop.run_until_complete(_follow(runtime, campaign.uid, worker))
    finally:
        loop.close()


async def _follow(runtime: Runtime, uid: str, worker: Worker | None) -> sending.Progress:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop)) if worker is not None else None
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("failed {task.fields[failed]}  skipped {task.fields[skipped]}  "
                          "{task.fields[rate]}/s  ETA {task.fields[eta]}"),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False) as bar:
            current = await asyncio.to_thread(sending.progress, runtime.db, uid)
            row = bar.add_task(current.name, total=current.total or 1, failed=0, skipped=0,
                               rate=0, eta="-")
            while True:
                current = await asyncio.to_thread(sending.progress, runtime.db, uid)
                bar.update(row, total=current.total or 1,
                           completed=current.sent + current.failed + current.skipped,
                           failed=current.failed, skipped=current.skipped,
                           rate=f"{current.rate:.0f}",
                           eta="-" if current.eta is None else f"{current.eta:.0f}s")
                if current.status.value != "running" or (task is not None and task.done()):
                    break
                await asyncio.sleep(REFRESH)
    finally:
        stop.set()
        if task is not None:
            with contextlib.suppress(Exception):
                await task
    console.print(f"{current.name}: {current.status}, {current.sent} sent, "
                  f"{current.failed} failed, {current.skipped} skipped.", markup=False)
    if current.error:
        console.print(f"The worker paused it: {current.error}", markup=False)
    return current
