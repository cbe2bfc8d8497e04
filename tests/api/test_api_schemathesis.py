"""Schemathesis over the OpenAPI schema: no generated request makes the API answer 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinflow.api.app import close_app, create_app
from clinflow.api.settings import Settings

from .helpers import Api

EXAMPLES_PER_OPERATION = 30


@pytest.mark.slow
@pytest.mark.parametrize("role", ["auditor", "patient", "service"])
def test_no_generated_request_causes_a_server_error(api: Api, role: str) -> None:
    app = create_app(Settings(data_dir=api.data_dir))
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        headers = {"Authorization": f"Bearer {api.tokens[role]}"}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 8
        seen: set[int] = set()
        strategy = st.one_of([operation.as_strategy() for operation in operations])

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION * len(operations),
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            seen.add(response.status_code)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                case.query,
                response.text[:300],
            )

        run()
        assert 200 in seen and 422 in seen, seen  # the token worked and bad input was refused
    finally:
        close_app(app)
