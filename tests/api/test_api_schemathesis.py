"""Schemathesis over every app's OpenAPI schema with every caller: no generated request makes
any app answer 5xx (or raise).

Apps: the audit-query API, the scoring service (fast path), and both apps of ``serve all``
(one deployment; the scoring app audits, so it runs through FastAPI). Callers: anonymous, each
role, a patient token of another patient, the deployment token. The quick subset (a few
examples per operation, two app/caller pairs) runs always; the full grid is ``slow`` (4
examples per operation in the suite; ``CLINFLOW_SCHEMATHESIS_EXAMPLES`` raises it for the
reliability run: 30 per operation is 11,340 cases, ~10 min on 2 busy cores).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import CALLERS, report_figures

QUICK = [("audit-api", "patient"), ("scoring", "scoring")]
APPS = ("audit-api", "scoring", "serve-all:audit-api", "serve-all:scoring")
FULL_EXAMPLES = int(os.environ.get("CLINFLOW_SCHEMATHESIS_EXAMPLES", "4"))
FULL = [(app, caller) for app in APPS for caller in CALLERS if (app, caller) not in QUICK]


def fuzz(apps: Any, app_name: str, caller: str | None, per_operation: int) -> dict[str, int]:
    """Run ``per_operation`` generated cases per operation; return cases and 5xx counts."""
    access, found = apps
    _, app, _ = found[app_name]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    headers = access.headers(caller)
    seen: list[int] = []

    @given(case=st.one_of([operation.as_strategy() for operation in operations]))
    @settings(
        max_examples=per_operation * len(operations),
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        seen.append(response.status_code)
        assert response.status_code < 500, (
            case.method, case.formatted_path, case.query, response.text[:300],
        )  # fmt: skip

    run()
    figures = {
        "operations": len(operations),
        "cases": len(seen),
        "server_errors": sum(s >= 500 for s in seen),
    }
    report_figures(f"schemathesis:{app_name}:{caller or 'anonymous'}", figures)
    return figures


@pytest.mark.parametrize(("app_name", "caller"), QUICK)
def test_no_generated_request_causes_a_server_error_quick(
    apps: Any, app_name: str, caller: str
) -> None:
    figures = fuzz(apps, app_name, caller, per_operation=2)
    assert figures["server_errors"] == 0 and figures["cases"] > 0


@pytest.mark.slow
@pytest.mark.parametrize(("app_name", "caller"), FULL + QUICK)
def test_no_generated_request_causes_a_server_error(
    apps: Any, app_name: str, caller: str | None
) -> None:
    figures = fuzz(apps, app_name, caller, per_operation=FULL_EXAMPLES)
    assert figures["server_errors"] == 0 and figures["cases"] > 0
