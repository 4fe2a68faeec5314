"""The shared CSRF helper."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from tidings.domain.errors import PermissionDenied, TokenExpired
from tidings.web import csrf, errors

SECRET = "csrf-test-secret-0123456789"


def test_a_token_verifies_for_its_binding_only() -> None:
    token = csrf.issue(SECRET, "preferences:abc")
    csrf.verify(SECRET, "preferences:abc", token)
    with pytest.raises(PermissionDenied):
        csrf.verify(SECRET, "preferences:abd", token)
    with pytest.raises(PermissionDenied):
        csrf.verify("another-secret-0123456789", "preferences:abc", token)


@pytest.mark.parametrize("bad", ["", None, "x", "é" * 10, "A" * 100, "!!!!"])
def test_malformed_tokens_are_refused(bad: str | None) -> None:
    with pytest.raises(PermissionDenied):
        csrf.verify(SECRET, "b", bad)


def test_tampering_is_detected() -> None:
    token = csrf.issue(SECRET, "b")
    for i in range(len(token)):
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
        with pytest.raises(PermissionDenied):
            csrf.verify(SECRET, "b", changed)


def test_tokens_expire() -> None:
    old = csrf.issue(SECRET, "b", now=time.time() - csrf.MAX_AGE - 10)
    with pytest.raises(TokenExpired):
        csrf.verify(SECRET, "b", old)
    csrf.verify(SECRET, "b", old, max_age=csrf.MAX_AGE + 60)


def test_check_refuses_cross_site_posts() -> None:
    app = FastAPI()
    errors.install(app)

    @app.post("/form")
    async def form(request: Request) -> dict[str, bool]:
        data = await request.form()
        csrf.check(request, SECRET, "b", str(data.get("csrf") or ""))
        return {"ok": True}

    client = TestClient(app, base_url="https://news.example.org")
    token = csrf.issue(SECRET, "b")
    assert client.post("/form", data={"csrf": token}).status_code == 200
    same = client.post("/form", data={"csrf": token},
                       headers={"origin": "https://news.example.org"})
    assert same.status_code == 200
    for origin in ("https://evil.example.com", "null", "https://news.example.org.evil.com"):
        response = client.post("/form", data={"csrf": token}, headers={"origin": origin})
        assert response.status_code == 403, origin
    referer = client.post("/form", data={"csrf": token},
                          headers={"referer": "https://evil.example.com/page"})
    assert referer.status_code == 403
