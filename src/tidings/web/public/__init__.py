"""Reader-facing pages: signup, confirmation, preferences, unsubscribe, archive."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the public routes to ``app``."""
