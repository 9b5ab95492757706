"""Schemathesis against the gateway's own OpenAPI document, on moto: no 5xx, nothing off-schema.

Cases are generated from ``/openapi.json`` (valid and invalid inputs for every operation),
sent in-process through httpx's ASGI transport on the test's event loop (the app's
aiobotocore clients live on that loop, so schemathesis' own thread-based ASGI client cannot
drive it), and every answer is checked against the document: no server error, a documented
status, content type, headers and body. Generation is derandomized so a run is repeatable.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from producers.gateway import create_app
from schemas.settings import CommonSettings
from tests.integration.gateway.helpers import ADMIN, TRACK, gateway_settings

pytestmark = pytest.mark.integration

#: Examples per operation and generation mode: ~13 operations x 2 modes x 16 = a few hundred.
EXAMPLES = 16
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def generate_cases(doc: dict[str, Any], examples: int = EXAMPLES) -> list[Case]:
    """Positive and negative cases for every operation of ``doc`` (derandomized)."""
    schema = schemathesis.openapi.from_dict(doc)
    cases: list[Case] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=examples,
                database=None,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def collect(case: Case) -> None:
                cases.append(case)

            # Unsatisfiable: nothing to make invalid (no parameters, no body)
            with contextlib.suppress(Unsatisfiable):
                collect()
    return cases


def case_token(path: str, index: int) -> str | None:
    if index % 11 == 0:  # now and then, no token at all
        return None
    return ADMIN if path.startswith("/v1/admin/") else TRACK


async def send_case(
    client: httpx.AsyncClient, case: Case, token: str | None, base_url: str = "http://gw.test"
) -> httpx.Response:
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=auth)
    content: Any = kwargs.get("data")
    if "json" in kwargs:
        content = httpx.Request("POST", "http://x", json=kwargs["json"]).content
    return await client.request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        content=content,
    )


async def test_the_gateway_answers_every_generated_case_within_its_schema(
    provisioned: CommonSettings, sqs: Any, ddb: Any
) -> None:
    # Generous budgets so most cases get past the rate limit to the queue and the tables.
    config = gateway_settings(
        provisioned,
        rate_limit_per_min=10_000,
        rate_limit_burst=1_000,
        admin_rate_limit_per_min=10_000,
        admin_rate_limit_burst=1_000,
    )
    app = create_app(config, sqs=sqs, ddb=ddb)
    cases = generate_cases(app.openapi())
    assert len(cases) > 200
    failures: list[str] = []
    statuses: set[int] = set()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        for index, case in enumerate(cases):
            response = await send_case(client, case, case_token(case.operation.path, index))
            statuses.add(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS)
            except (FailureGroup, Failure) as exc:
                failures.append(f"{case.operation.label}: {exc}")
    labels = sorted({f.split(":", 1)[0] for f in failures})
    assert failures == [], f"{len(failures)} failures in {labels}\n\n" + "\n\n".join(failures[:3])
    assert all(status < 500 or status == 503 for status in statuses)
    # the run reached the real work, not only the validators
    assert {200, 202, 400, 401} <= statuses
    requests_url = (await sqs.get_queue_url(QueueName=config.names.requests_queue))["QueueUrl"]
    attrs = await sqs.get_queue_attributes(
        QueueUrl=requests_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert int(attrs["Attributes"]["ApproximateNumberOfMessages"]) > 0
