"""The REST API v1 under ``/api/v1``."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the API routes to ``app``."""
