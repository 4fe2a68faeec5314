"""The server-rendered admin UI under ``/admin``."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the admin routes to ``app``."""
