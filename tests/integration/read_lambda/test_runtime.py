"""The read Lambda's life across invocations: cold start from the environment, one client
and one app reused, tokens rotated through Secrets Manager, Secrets Manager down."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from infra.read_lambda import handler as entry
from infra.read_lambda.handler import Runtime
from schemas.settings import CommonSettings
from tests.integration.gateway.helpers import ADMIN, TRACK
from tests.integration.read_lambda.conftest import Invoke, Lambdas, ProxyEvent, Secrets

pytestmark = pytest.mark.integration

NEW_ADMIN = "rotated-admin-token-" + "n" * 16


def stats(proxy_event: ProxyEvent, token: str) -> dict[str, Any]:
    return proxy_event("GET", "/v1/admin/stats", headers={"Authorization": f"Bearer {token}"})


async def test_the_entry_point_cold_starts_from_its_environment_and_stays_warm(
    provisioned: CommonSettings,
    token_secrets: Secrets,
    proxy_event: ProxyEvent,
    lambda_thread: ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the environment Terraform gives the function
    env = {
        "BROKER_NAME_PREFIX": provisioned.name_prefix,
        "BROKER_AWS_ENDPOINT_URL": provisioned.aws_endpoint_url or "",
        "BROKER_TRACK_TOKEN_SECRET_ARN": token_secrets.arns["track"],
        "BROKER_ADMIN_TOKEN_SECRET_ARN": token_secrets.arns["admin"],
        "BROKER_LOG_FORMAT": "json",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(entry, "_runtime", None)
    loop = asyncio.get_running_loop()
    try:
        # WHEN it is invoked twice
        first = await loop.run_in_executor(
            lambda_thread, entry.handler, stats(proxy_event, ADMIN), None
        )
        warm = entry._runtime
        second = await loop.run_in_executor(
            lambda_thread, entry.handler, stats(proxy_event, ADMIN), None
        )
        # THEN both are answered, by one runtime on one client and one app
        assert first["statusCode"] == second["statusCode"] == 200
        assert set(json.loads(second["body"])) >= {"available", "allocated", "total"}
        assert entry._runtime is warm
    finally:
        if entry._runtime is not None:
            await loop.run_in_executor(lambda_thread, entry._runtime.close)


async def test_one_client_and_one_app_serve_every_invocation(
    runtime: Runtime, invoke: Invoke, proxy_event: ProxyEvent
) -> None:
    client = runtime.ddb
    adapters = set()
    for _ in range(3):
        assert (await invoke(stats(proxy_event, ADMIN)))["statusCode"] == 200
        adapters.add(id(runtime.adapter()))
    assert runtime.ddb is client
    assert len(adapters) == 1


async def test_a_rotated_token_is_taken_within_the_cache_ttl(
    lambdas: Lambdas, token_secrets: Secrets, proxy_event: ProxyEvent
) -> None:
    # a TTL of 0: every invocation reads the secrets, so the test needs no clock
    rt = await lambdas.open(token_cache_ttl_s=0)
    assert (await lambdas.invoke(rt, stats(proxy_event, ADMIN)))["statusCode"] == 200
    token_secrets.put("admin", NEW_ADMIN)
    assert (await lambdas.invoke(rt, stats(proxy_event, NEW_ADMIN)))["statusCode"] == 200
    old = await lambdas.invoke(rt, stats(proxy_event, ADMIN))
    assert old["statusCode"] == 401
    assert json.loads(old["body"])["error"]["code"] == "UNAUTHORIZED"


async def test_without_readable_tokens_the_answer_is_503_in_the_contract_body(
    lambdas: Lambdas, token_secrets: Secrets, proxy_event: ProxyEvent
) -> None:
    class Down:
        """Secrets Manager that cannot be reached (the cold start has no good read yet)."""

        exceptions = token_secrets.client.exceptions

        def get_secret_value(self, **_: Any) -> Any:
            raise ConnectionError("secretsmanager unreachable")

    rt = await lambdas.open(secrets=Down(), cors_origins="https://lab.example")
    event = proxy_event(
        "GET",
        "/v1/admin/stats",
        headers={"Authorization": f"Bearer {ADMIN}", "Origin": "https://lab.example"},
    )
    answer = await lambdas.invoke(rt, event)
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["error"]["code"] == "QUEUE_UNAVAILABLE"
    assert answer["headers"]["x-content-type-options"] == "nosniff"
    assert answer["headers"]["access-control-allow-origin"] == "https://lab.example"
    assert ADMIN not in json.dumps(answer)


async def test_an_empty_secret_refuses_that_role_and_serves_the_other(
    lambdas: Lambdas, token_secrets: Secrets, proxy_event: ProxyEvent
) -> None:
    """A secret without a value (the Terraform's default until one is put) matches nothing."""
    token_secrets.client.delete_secret(
        SecretId=token_secrets.arns["track"], ForceDeleteWithoutRecovery=True
    )
    rt = await lambdas.open(token_cache_ttl_s=0)
    token_secrets.arns.pop("track")
    event = proxy_event(
        "GET",
        "/v1/sandboxes/sbx-1",
        headers={"Authorization": f"Bearer {TRACK}", "X-Instruqt-Sandbox-ID": "t-1"},
    )
    assert (await lambdas.invoke(rt, event))["statusCode"] == 401
    assert (await lambdas.invoke(rt, stats(proxy_event, ADMIN)))["statusCode"] == 200


async def test_the_request_log_line_carries_api_gateways_request_id_and_no_token(
    invoke: Invoke, proxy_event: ProxyEvent
) -> None:
    event = stats(proxy_event, ADMIN)
    with capture_logs(processors=[merge_contextvars]) as logs:
        assert (await invoke(event))["statusCode"] == 200
    (line,) = [e for e in logs if e["event"] == "http_request"]
    assert line["request_id"] == event["requestContext"]["requestId"]
    assert line["endpoint"] == "/v1/admin/stats" and line["status"] == 200
    assert ADMIN not in json.dumps(logs, default=str)
