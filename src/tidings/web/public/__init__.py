"""Reader-facing pages: signup, confirmation, preferences, unsubscribe, archive.

Each module holds the routes of one page or endpoint family; :func:`mount` adds them.
"""

from __future__ import annotations

from fastapi import FastAPI

from tidings.services.signup_guard import SignupGuard
from tidings.web.public import (
    api,
    archive,
    confirm,
    embed,
    preferences,
    signup,
    unsubscribe,
)


def mount(app: FastAPI) -> None:
    """Add the public routes to ``app`` (whose ``state.runtime`` is set)."""
    runtime = app.state.runtime
    app.state.signup_guard = SignupGuard(runtime.tokens, runtime.settings.secret_key)
    app.include_router(signup.router)
    app.include_router(embed.router)
    app.include_router(api.router)
    app.include_router(confirm.router)
    app.include_router(unsubscribe.router)
    app.include_router(preferences.router)
    app.include_router(archive.router)
