"""schemathesis over the OpenAPI document: generated requests for every operation, answers checked
against the document (status codes, content types, response schemas) and never a 5xx. Bounded: a fixed
number of examples per operation, long-polls with a short timeout. Runs on SQLite and, in CI's second
pass, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import load_all_checks
from schemathesis.specs.openapi.checks import positive_data_acceptance

from swarmsite.api.assembly import api
from swarmsite.models import ApiToken

load_all_checks()
schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = get_wsgi_application()
EXAMPLES = 6
# Valid input can still be refused for the state it meets (an unknown identity is 404, a held lease
# 409): those answers are documented, so every other check stays on.
EXCLUDED = [positive_data_acceptance]


@pytest.fixture
def admin_token(db: None) -> Iterator[str]:
    # As Django's test client does: the WSGI app must not close the test's connection after each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield ApiToken.issue("fuzz", ApiToken.Scope.ADMIN)[1]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_operation_answers_as_documented(case: Any, admin_token: str) -> None:
    for name in ("timeout", "timeout_s"):
        if case.query and name in case.query:
            case.query[name] = 0.05  # long-polls answer at once
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, excluded_checks=EXCLUDED)
