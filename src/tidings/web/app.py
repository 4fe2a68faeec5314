"""The ASGI application: ``create_app(runtime)`` mounts every part of the web layer."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from tidings import __version__
from tidings.bootstrap import Runtime
from tidings.web import admin, api, errors, mailchimp, pages, public


def create_app(runtime: Runtime) -> FastAPI:
    """Build the app around an already prepared runtime (database migrated)."""
    app = FastAPI(
        title="Tidings",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    errors.install(app)
    app.mount("/static", StaticFiles(directory=str(pages.STATIC_DIR)), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        with runtime.db.read() as conn:
            conn.exec_driver_sql("SELECT 1")
        return JSONResponse({"status": "ok", "version": __version__})

    public.mount(app)
    admin.mount(app)
    api.mount(app)
    mailchimp.mount(app)
    return app
