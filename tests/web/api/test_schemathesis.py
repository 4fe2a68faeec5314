"""Property-based tests from the OpenAPI document: no input makes the API fail (5xx),
and every answer matches what the document promises.

Bounded on purpose: a few examples per operation, on both databases.
"""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.api.conftest import KeyMaker
from tidings.bootstrap import Runtime
from tidings.domain.lists import OptIn
from tidings.domain.roles import Role
from tidings.services import lists, subscribers

EXAMPLES = 12


def test_the_api_never_fails_and_keeps_its_promises(app: FastAPI, runtime: Runtime,
                                                     key_for: KeyMaker) -> None:
    # Something to find, so that generated requests reach past the 404s now and then.
    lists.create(runtime.db, slug="daily", name="Daily", optin=OptIn.SINGLE)
    subscribers.add(runtime.db, email="ann@example.org", lists=["daily"], preconfirmed=True)
    headers = key_for(Role.ADMIN)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.formatted_path,
                                                 response.text)
            case.validate_response(response, checks=[status_code_conformance,
                                                     content_type_conformance,
                                                     response_schema_conformance],
                                   headers=headers)
        check()
