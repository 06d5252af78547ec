"""The OpenAPI document at /openapi.json describes the running gateway, and schemathesis, generating
requests from it (valid and invalid), gets no server error but 501 for RPCs not implemented yet."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode

from gateway.openapi import openapi_document
from gateway.routes import build_route_table
from tests.integration.gateway.conftest import Gateway, PastMeeting
from tests.support.tokens import token_for

# Per operation, valid and invalid mixed: 15 in `make test`; `make soak` (ROLLCALL_SOAK=1) up to 450
# (24 operations: up to 10,800 in all); ROLLCALL_FUZZ_EXAMPLES=N sets it by hand.
SOAK_EXAMPLES = 450
MAX_EXAMPLES = int(
    os.environ.get("ROLLCALL_FUZZ_EXAMPLES") or (SOAK_EXAMPLES if os.environ.get("ROLLCALL_SOAK") else 15)
)


def test_the_document_lists_every_annotated_rpc_and_is_valid(gateway: Gateway) -> None:
    document = httpx.get(f"{gateway.url}/openapi.json", timeout=5).json()
    operations = {op["operationId"] for methods in document["paths"].values() for op in methods.values()}
    assert {route.operation_id for route in build_route_table().routes} <= operations
    schemathesis.openapi.from_dict(document).validate()


def test_the_docs_page_lists_the_operations_without_inline_script(gateway: Gateway) -> None:
    page = httpx.get(f"{gateway.url}/docs", timeout=5)
    assert page.status_code == 200
    assert "/api/zoom/meetings/{meeting_id}/participants" in page.text
    assert "<script type='module' src='/docs/docs.js'></script>" in page.text
    assert "<script>" not in page.text
    assert httpx.get(f"{gateway.url}/docs/docs.js", timeout=5).headers["content-type"].startswith("text/javascript")


@pytest.fixture(scope="package")
def api_schema(gateway: Gateway, past_meeting: PastMeeting) -> Any:
    admin = token_for(past_meeting.school.admin, "admin")
    config = SchemathesisConfig.from_dict({"headers": {"authorization": f"Bearer {admin}"}, "request-timeout": 10})
    return schemathesis.openapi.from_url(f"{gateway.url}/openapi.json", config=config)


# schemathesis' own pytest integration (`from_fixture`) reads `Function._nodeid`, which pytest 9
# no longer has: the strategies are driven with hypothesis directly instead.
OPERATION_IDS = sorted(
    op["operationId"]
    for methods in openapi_document(build_route_table(), version="test")["paths"].values()
    for op in methods.values()
)


@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_generated_requests_get_no_server_error(api_schema: Any, operation_id: str) -> None:
    operation = api_schema.find_operation_by_id(operation_id)
    # Valid and invalid requests; an operation whose only input is a free string has no invalid ones.
    cases = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in GenerationMode))

    @given(case=cases)
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def no_server_error(case: Any) -> None:
        response = case.call(timeout=10)
        assert response.status_code < 500 or response.status_code == 501, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
        )

    no_server_error()
