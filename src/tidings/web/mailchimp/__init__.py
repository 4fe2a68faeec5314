"""The Mailchimp-compatible API under ``/3.0``."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the Mailchimp-compatible routes to ``app``."""
