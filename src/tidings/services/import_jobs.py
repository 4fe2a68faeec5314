"""Imports as jobs: a row in ``imports`` that a UI can poll while the import runs.

The admin UI or the API saves the uploaded file, calls :func:`create`, then
:func:`start` (a background thread) and polls :func:`get`: ``processed_bytes``
and ``skipped`` move while the file is read; ``imported`` and ``updated`` are
known when the merge commits, and then ``status`` is ``finished`` with the
report (CSV text, as :func:`tidings.services.imports.run` writes it) stored in
the row. A refused or failed import ends ``failed`` with its one-line ``error``
and changes nothing else.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from tidings.db import imports as db_imports
from tidings.db.database import Database
from tidings.domain.errors import Conflict, NotFound, TidingsError
from tidings.domain.ids import new_uid
from tidings.domain.timezones import utcnow
from tidings.services import imports
from tidings.services.imports import ImportOptions, Progress

PROGRESS_EVERY = 0.5  # seconds between progress writes
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportJob:
    uid: str
    status: str               # queued, running, finished, failed
    filename: str
    options: dict[str, Any]
    total_bytes: int | None
    processed_bytes: int
    imported: int
    updated: int
    skipped: int
    report: str | None
    error: str | None
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def fraction(self) -> float | None:
        """How far reading has got (0-1), when the size is known."""
        if self.status == "finished":
            return 1.0
        if not self.total_bytes:
            return None
        return min(1.0, self.processed_bytes / self.total_bytes)


def _job(row: Any) -> ImportJob:
    return ImportJob(**{name: getattr(row, name) for name in ImportJob.__slots__})


def create(db: Database, *, filename: str, options: ImportOptions,
           total_bytes: int | None = None, created_by: str | None = None) -> ImportJob:
    """Record a queued import of ``filename`` (its base name is kept)."""
    name = Path(filename).name[:255] or "import.csv"
    with db.write() as conn:
        row = db_imports.insert_job(conn, uid=new_uid(), filename=name,
                                    options=options.as_json(), total_bytes=total_bytes,
                                    created_by=created_by, now=utcnow())
    return _job(row)


def get(db: Database, uid: str) -> ImportJob:
    with db.read() as conn:
        row = db_imports.get(conn, uid)
    if row is None:
        raise NotFound("No such import.")
    return _job(row)


def recent(db: Database, limit: int = 20) -> list[ImportJob]:
    with db.read() as conn:
        return [_job(r) for r in db_imports.recent(conn, limit)]


def run(db: Database, uid: str, stream: BinaryIO, *, user_id: int | None = None) -> ImportJob:
    """Run a queued import now, keeping its row up to date; return the final job.

    Raises :class:`Conflict` if the job is not queued (each job runs once).
    """
    job = get(db, uid)
    if job.status != "queued":
        raise Conflict("This import has been started already.")
    options = ImportOptions.from_json(job.options, actor=job.created_by, user_id=user_id)
    with db.write() as conn:
        db_imports.update_job(conn, uid, status="running")
    last = 0.0
    read = 0

    def progress(now: Progress) -> None:
        nonlocal last, read
        read = now.bytes_read
        # Written from the reading phase only: the merge holds SQLite's write lock.
        if now.phase == "reading" and time.monotonic() - last < PROGRESS_EVERY:
            return
        last = time.monotonic()
        if now.phase in ("reading", "merging"):
            with db.write() as conn:
                db_imports.update_job(conn, uid, processed_bytes=now.bytes_read,
                                      skipped=now.skipped)

    report = io.StringIO()
    try:
        result = imports.run(db, stream, options, progress=progress, report=report,
                             filename=job.filename)
    except TidingsError as exc:
        _finish(db, uid, status="failed", error=exc.message)
    except Exception:
        log.exception("import %s failed", uid)
        _finish(db, uid, status="failed", error="The import failed; nothing was changed.")
    else:
        _finish(db, uid, status="finished", imported=result.imported, updated=result.updated,
                skipped=result.skipped, report=report.getvalue(), processed_bytes=read)
    return get(db, uid)


def start(db: Database, uid: str, path: Path, *, remove: bool = True,
          user_id: int | None = None) -> threading.Thread:
    """Run the import of the file at ``path`` in a background thread.

    With ``remove`` the file (an upload saved for the job) is deleted afterwards.
    """
    def work() -> None:
        try:
            with path.open("rb") as stream:
                run(db, uid, stream, user_id=user_id)
        finally:
            if remove:
                path.unlink(missing_ok=True)

    thread = threading.Thread(target=work, name=f"import-{uid}", daemon=True)
    thread.start()
    return thread


def _finish(db: Database, uid: str, **values: Any) -> None:
    with db.write() as conn:
        db_imports.update_job(conn, uid, finished_at=utcnow(), **values)
