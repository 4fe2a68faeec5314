"""CSV import with a live progress bar, and CSV export of subscribers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from tidings.domain.errors import NotFound, PayloadTooLarge, ValidationError
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.domain.users import User
from tidings.services import exports, import_jobs, lists, stats, subscribers
from tidings.services.imports import ImportMode, ImportOptions
from tidings.web import uploads
from tidings.web.admin.common import Writer, redirect, render, runtime

router = APIRouter()


def _page(request: Request, **context: object) -> HTMLResponse:
    db = runtime(request).db
    return render(request, "admin/imports.html", {
        "jobs": import_jobs.recent(db, limit=10), "lists": lists.all_lists(db),
        "modes": list(ImportMode), **context}, section="imports",
        status_code=422 if context.get("error") else 200)


@router.get("/admin/imports", response_class=HTMLResponse)
def index(request: Request, user: Writer) -> Response:
    return _page(request)


@router.post("/admin/imports", response_class=HTMLResponse)
async def upload(request: Request, user: Writer) -> Response:
    form = await request.form()
    return await run_in_threadpool(_upload, request, user, form)


def _upload(request: Request, user: User, form: FormData) -> Response:
    rt = runtime(request)
    upload_file = form.get("file")
    chosen = [v for v in form.getlist("lists") if isinstance(v, str)]
    if not isinstance(upload_file, UploadFile) or not upload_file.filename:
        return _page(request, error="Choose a CSV file to import.")
    try:
        mode = ImportMode(str(form.get("mode", "subscribe")))
        status = SubscriptionStatus(str(form.get("status", "unconfirmed")))
        lists.resolve(rt.db, chosen)
        options = ImportOptions(lists=tuple(chosen), mode=mode, status=status,
                                update_existing=form.get("update_existing") == "yes",
                                actor=user.label, user_id=user.id)
        path, size = uploads.save(upload_file.file, rt.settings.data_dir)
    except (ValueError, ValidationError, NotFound, PayloadTooLarge) as exc:
        message = exc.message if isinstance(exc, ValidationError | NotFound |
                                            PayloadTooLarge) else "Unknown option."
        return _page(request, error=message)
    try:
        job = import_jobs.create(rt.db, filename=upload_file.filename, options=options,
                                 total_bytes=size, created_by=user.label)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    import_jobs.start(rt.db, job.uid, path, user_id=user.id)
    return redirect(request, f"/admin/imports/{job.uid}")


@router.get("/admin/imports/{uid}", response_class=HTMLResponse)
def show(request: Request, user: Writer, uid: str) -> Response:
    job = import_jobs.get(runtime(request).db, uid)
    return render(request, "admin/import.html", {"job": job}, section="imports")


@router.get("/admin/imports/{uid}/progress.json")
def progress(request: Request, user: Writer, uid: str) -> JSONResponse:
    job = import_jobs.get(runtime(request).db, uid)
    if job.status in ("finished", "failed"):
        stats.forget(runtime(request).db)
    return JSONResponse({
        "status": job.status, "processed_bytes": job.processed_bytes,
        "total_bytes": job.total_bytes or 0, "imported": job.imported,
        "updated": job.updated, "skipped": job.skipped, "error": job.error,
        "percent": round(100 * (job.fraction or 0)),
        "done": job.status in ("finished", "failed")}, headers={"Cache-Control": "no-store"})


@router.get("/admin/imports/{uid}/report.csv")
def report(request: Request, user: Writer, uid: str) -> Response:
    job = import_jobs.get(runtime(request).db, uid)
    return Response(job.report or "line,email,reason\r\n", media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="import-{job.uid}-skipped.csv"'})


@router.get("/admin/export")
def export(request: Request, user: Writer, list: str = "", status: str = "") -> Response:
    """Subscribers as CSV (the columns an import reads back), streamed."""
    parsed = subscribers.subscription_status(status) if status else None
    chunks = exports.export_csv(runtime(request).db, list_ref=list or None, status=parsed)
    name = f"subscribers-{list or 'all'}-{utcnow():%Y%m%d-%H%M}.csv"
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})
