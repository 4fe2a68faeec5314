"""Least privilege: every API route refuses keys whose role lacks its permission."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.web.api.conftest import KeyMaker
from tidings.domain.roles import Permission, Role, allows

R, W, S, A = Permission.READ, Permission.WRITE, Permission.SEND, Permission.ADMINISTER

# What each operation needs; a route added without an entry here fails the first test.
REQUIRED: dict[tuple[str, str], Permission] = {
    ("GET", "/api/v1/lists"): R,
    ("POST", "/api/v1/lists"): W,
    ("GET", "/api/v1/lists/{ref}"): R,
    ("PATCH", "/api/v1/lists/{ref}"): W,
    ("DELETE", "/api/v1/lists/{ref}"): W,
    ("GET", "/api/v1/subscribers"): R,
    ("POST", "/api/v1/subscribers"): W,
    ("POST", "/api/v1/subscribers/bulk"): W,
    ("GET", "/api/v1/subscribers/{ref}"): R,
    ("PATCH", "/api/v1/subscribers/{ref}"): W,
    ("DELETE", "/api/v1/subscribers/{ref}"): W,
    ("GET", "/api/v1/subscribers/{ref}/subscriptions"): R,
    ("PUT", "/api/v1/subscribers/{ref}/subscriptions/{list_ref}"): W,
    ("DELETE", "/api/v1/subscribers/{ref}/subscriptions/{list_ref}"): W,
    ("POST", "/api/v1/imports"): W,
    ("GET", "/api/v1/imports"): R,
    ("GET", "/api/v1/imports/{uid}"): R,
    ("GET", "/api/v1/campaigns"): R,
    ("POST", "/api/v1/campaigns"): W,
    ("GET", "/api/v1/campaigns/{ref}"): R,
    ("PATCH", "/api/v1/campaigns/{ref}"): W,
    ("DELETE", "/api/v1/campaigns/{ref}"): W,
    ("POST", "/api/v1/campaigns/{ref}/clone"): W,
    ("GET", "/api/v1/campaigns/{ref}/preview"): R,
    ("POST", "/api/v1/campaigns/{ref}/test"): S,
    ("POST", "/api/v1/campaigns/{ref}/schedule"): S,
    ("POST", "/api/v1/campaigns/{ref}/unschedule"): S,
    ("POST", "/api/v1/campaigns/{ref}/send"): S,
    ("POST", "/api/v1/campaigns/{ref}/pause"): S,
    ("POST", "/api/v1/campaigns/{ref}/resume"): S,
    ("POST", "/api/v1/campaigns/{ref}/cancel"): S,
    ("GET", "/api/v1/campaigns/{ref}/stats"): R,
    ("GET", "/api/v1/templates"): R,
    ("POST", "/api/v1/templates"): W,
    ("GET", "/api/v1/templates/{ref}"): R,
    ("PATCH", "/api/v1/templates/{ref}"): W,
    ("DELETE", "/api/v1/templates/{ref}"): W,
    ("POST", "/api/v1/templates/{ref}/default"): W,
    ("GET", "/api/v1/segments"): R,
    ("POST", "/api/v1/segments"): W,
    ("POST", "/api/v1/segments/count"): R,
    ("GET", "/api/v1/segments/{ref}"): R,
    ("PATCH", "/api/v1/segments/{ref}"): W,
    ("DELETE", "/api/v1/segments/{ref}"): W,
    ("GET", "/api/v1/settings"): R,
    ("PATCH", "/api/v1/settings"): A,
    ("GET", "/api/v1/me"): R,
}


def _operations(client: TestClient) -> set[tuple[str, str]]:
    doc = client.get("/api/v1/openapi.json").json()
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def _call(client: TestClient, method: str, path: str,
          headers: dict[str, str]) -> int:
    url = re.sub(r"\{[a-z_]+\}", "nothing-here", path)
    return client.request(method, url, headers=headers, json={}).status_code


def test_every_operation_has_a_declared_permission(client: TestClient) -> None:
    assert _operations(client) == set(REQUIRED)


def test_each_route_refuses_roles_without_its_permission(client: TestClient,
                                                         key_for: KeyMaker) -> None:
    keys = {role: key_for(role) for role in Role}
    for (method, path), permission in REQUIRED.items():
        assert _call(client, method, path, {}) == 401, (method, path)
        for role, headers in keys.items():
            status = _call(client, method, path, headers)
            if allows(role, permission):
                assert status not in (401, 403), (method, path, role, status)
            else:
                assert status == 403, (method, path, role, status)


def test_problem_bodies_say_why(client: TestClient, key_for: KeyMaker) -> None:
    response = client.post("/api/v1/lists", json={"slug": "x", "name": "X"},
                           headers=key_for(Role.VIEWER))
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 403 and "viewer" in body["detail"]
    missing = client.get("/api/v1/lists")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    bogus = client.get("/api/v1/lists", headers={"Authorization": "Bearer tdg_nope"})
    assert bogus.status_code == 401 and bogus.json()["type"].endswith("Unauthenticated")
