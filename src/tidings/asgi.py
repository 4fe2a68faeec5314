"""ASGI entry for running under an external server: ``uvicorn tidings.asgi:app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from tidings import bootstrap, config
from tidings.web.app import create_app


def app() -> FastAPI:
    settings = config.load()
    bootstrap.configure_logging(settings)
    return create_app(bootstrap.prepare(settings))
