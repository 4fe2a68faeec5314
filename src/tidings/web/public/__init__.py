"""Reader-facing pages: signup, confirmation, preferences, unsubscribe, archive."""

from __future__ import annotations

from fastapi import FastAPI

from tidings.web.public import archive


def mount(app: FastAPI) -> None:
    """Add the public routes to ``app``."""
    app.include_router(archive.router)
