"""API test fixtures: a key of each role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.web.admin.helpers import make_user
from tidings.bootstrap import Runtime
from tidings.domain.roles import Role
from tidings.services import accounts, api_keys

KeyMaker = Callable[[Role], dict[str, str]]


@pytest.fixture
def key_for(runtime: Runtime) -> KeyMaker:
    """Headers carrying a fresh API key of the given role."""
    row = make_user(runtime, "owner@example.org")
    owner = accounts.get(runtime.db, row["id"])
    assert owner is not None

    def make(role: Role) -> dict[str, str]:
        _, secret = api_keys.create(runtime.db, name=f"{role} key", role=role, actor=owner)
        return {"Authorization": f"Bearer {secret}"}
    return make


@pytest.fixture
def api(client: TestClient, key_for: KeyMaker) -> TestClient:
    """A client whose requests carry an admin key."""
    client.headers.update(key_for(Role.ADMIN))
    return client
