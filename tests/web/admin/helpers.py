"""Helpers for admin tests: CSRF tokens from pages, signing in, users of each role."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tidings.bootstrap import Runtime
from tidings.domain.roles import Role
from tidings.services import runtime_settings, users

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf" value="([A-Za-z0-9_-]+)"')


def csrf(client: TestClient, path: str = "/admin/login") -> str:
    """The CSRF token of the form on ``path`` (the cookie comes with it)."""
    page = client.get(path)
    match = _TOKEN.search(page.text)
    assert match, f"no CSRF token on {path}: {page.status_code} {page.text[:300]}"
    return match.group(1)


def post(client: TestClient, path: str, data: dict[str, Any] | None = None, *,
         page: str | None = None, **kwargs: Any) -> Response:
    """A form post with a valid token taken from ``page`` (default: the dashboard)."""
    token = csrf(client, page or "/admin/account")
    return client.post(path, data={**(data or {}), "csrf": token},
                       follow_redirects=False, **kwargs)


def make_user(runtime: Runtime, email: str, role: Role = Role.ADMIN,
              password: str = PASSWORD) -> dict[str, Any]:
    runtime_settings.update(runtime.db, {"setup.completed": True})
    return users.create(runtime.db, email=email, password=password, role=role)


def login(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    token = csrf(client, "/admin/login")
    return client.post("/admin/login", data={"email": email, "password": password,
                                             "csrf": token}, follow_redirects=False)


def signed_in(client: TestClient, runtime: Runtime, email: str = "ann@example.org",
              role: Role = Role.ADMIN) -> TestClient:
    make_user(runtime, email, role)
    response = login(client, email)
    assert response.status_code == 303, response.text
    return client
