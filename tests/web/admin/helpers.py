"""Helpers for admin tests: CSRF tokens from pages, signing in, users of each role."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tidings.bootstrap import Runtime
from tidings.db import users as db_users
from tidings.domain.ids import new_uid
from tidings.domain.roles import Role
from tidings.domain.timezones import utcnow
from tidings.services import accounts, runtime_settings, users
from tidings.web import auth

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


@cache
def _password_hash() -> str:
    """One real Argon2 hash of PASSWORD per test process (each costs a third of a second)."""
    return users.hash_password(PASSWORD)


def make_user(runtime: Runtime, email: str, role: Role = Role.ADMIN) -> dict[str, Any]:
    """A user whose password is PASSWORD."""
    runtime_settings.update(runtime.db, {"setup.completed": True})
    with runtime.db.write() as conn:
        return db_users.insert_user(conn, uid=new_uid(), email=email, name="",
                                    password_hash=_password_hash(), role=str(role),
                                    now=utcnow())


def login(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    token = csrf(client, "/admin/login")
    return client.post("/admin/login", data={"email": email, "password": password,
                                             "csrf": token}, follow_redirects=False)


def signed_in(client: TestClient, runtime: Runtime, email: str = "ann@example.org",
              role: Role = Role.ADMIN) -> TestClient:
    """``client`` with the session cookie the sign-in page would have set (the sign-in
    itself is tested in test_access)."""
    user = accounts.get(runtime.db, make_user(runtime, email, role)["id"])
    assert user is not None
    client.cookies.set(auth.SESSION_COOKIE, auth.session_value(
        runtime.settings.secret_key, user))
    return client
