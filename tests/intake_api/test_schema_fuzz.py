"""Property test over the published OpenAPI schema: no generated request gets a 5xx.

Bounded (a dozen examples per operation, derandomised) so it stays fast and repeatable.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.intake_api.conftest import Api

# Which account calls which part of the API, so the fuzzing reaches past the role checks.
_ROLE_BY_PREFIX = [
    ("/api/v1/intake", "bot"),
    ("/api/v1/outbound", "bot"),
    ("/api/v1/reporters", "bot"),
    ("/api/v1/tickets/by-reference", "bot"),
    ("/api/v1/audit", "supervisor"),
    ("/api/v1/stats", "supervisor"),
    ("/api/v1/reports", "supervisor"),
    ("/api/v1/users", "admin"),
]
EXAMPLES_PER_OPERATION = 12


def _role_for(path: str, method: str) -> str:
    if path.endswith("/messages") and method.upper() == "POST":
        return "bot"
    return next((role for prefix, role in _ROLE_BY_PREFIX if path.startswith(prefix)), "operator")


def test_no_generated_request_gets_a_server_error(api: Api) -> None:
    api.new_ticket()  # something for the list, stats and look-ups to find
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 15
    failures: list[str] = []
    for operation in operations:
        _fuzz(api, operation, failures)
    assert failures == []


def _fuzz(api: Api, operation, failures: list[str]) -> None:  # type: ignore[no-untyped-def]
    role = None
    if operation.path != "/api/v1/auth/token":
        role = _role_for(operation.path, operation.method)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case) -> None:  # type: ignore[no-untyped-def]
        headers = dict(case.headers or {})
        if role:
            headers.update(api.headers(role))
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

    run()
