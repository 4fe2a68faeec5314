"""``/api/v1/imports``: CSV imports as jobs whose progress can be polled."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from pydantic import BaseModel, Field

from tidings.domain.subscriptions import SubscriptionStatus
from tidings.services import import_jobs
from tidings.services import lists as mailing_lists
from tidings.services.import_jobs import ImportJob
from tidings.services.imports import ImportMode, ImportOptions
from tidings.web import uploads
from tidings.web.api.schemas import Page
from tidings.web.api.security import Reader, Writer, runtime

router = APIRouter(tags=["imports"])


class ImportOut(BaseModel):
    id: str
    status: Literal["queued", "running", "finished", "failed"]
    filename: str
    options: dict[str, object]
    total_bytes: int | None
    processed_bytes: int
    fraction: float | None = Field(description="How far reading has got, 0 to 1.")
    imported: int
    updated: int
    skipped: int
    error: str | None
    report: str | None = Field(description="CSV of skipped rows (line, email, reason), "
                                           "once finished.")
    created_at: datetime
    finished_at: datetime | None


def out(job: ImportJob) -> ImportOut:
    return ImportOut(id=job.uid, status=job.status,
                     filename=job.filename, options=job.options,
                     total_bytes=job.total_bytes, processed_bytes=job.processed_bytes,
                     fraction=job.fraction, imported=job.imported, updated=job.updated,
                     skipped=job.skipped, error=job.error, report=job.report,
                     created_at=job.created_at, finished_at=job.finished_at)


@router.post("/imports", status_code=202, summary="Upload a CSV file and start importing it",
             description="The import runs in the background; poll `GET /imports/{id}`. "
                         "Columns: see docs/importing.md.")
def create(request: Request, key: Writer, file: Annotated[UploadFile, File()],
           lists: Annotated[list[str], Form(description="Slugs or ids (repeat the field).")
                            ] = [],  # noqa: B006 (FastAPI reads the default, never mutates it)
           mode: Annotated[ImportMode, Form()] = ImportMode.SUBSCRIBE,
           status: Annotated[Literal["unconfirmed", "confirmed"], Form()] = "unconfirmed",
           update_existing: Annotated[bool, Form()] = False) -> ImportOut:
    rt = runtime(request)
    mailing_lists.resolve(rt.db, lists)  # unknown lists are refused before the upload
    options = ImportOptions(lists=tuple(lists), mode=mode, status=SubscriptionStatus(status),
                            update_existing=update_existing, actor=key.label)
    path, size = uploads.save(file.file, rt.settings.data_dir)
    try:
        job = import_jobs.create(rt.db, filename=file.filename or "import.csv",
                                 options=options, total_bytes=size, created_by=key.label)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    import_jobs.start(rt.db, job.uid, path)
    return out(job)


@router.get("/imports", summary="Recent imports, newest first")
def index(request: Request, key: Reader) -> Page[ImportOut]:
    return Page(data=[out(j) for j in import_jobs.recent(runtime(request).db, limit=50)],
                next_cursor=None)


@router.get("/imports/{uid}", summary="One import and its progress")
def show(request: Request, key: Reader,
         uid: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,32}$")]) -> ImportOut:
    return out(import_jobs.get(runtime(request).db, uid))
