"""The read Lambda in process, on a real moto server, next to the local gateway.

``proxy_event`` builds API Gateway REST (v1) proxy events as API Gateway sends them to a
Lambda proxy integration; ``invoke`` runs the handler on one dedicated thread (a Lambda
environment runs one invocation at a time, on one thread, and the handler drives its own
event loop, which cannot run inside the test's).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest

from infra.read_lambda.handler import Runtime
from producers.gateway import create_app
from schemas.settings import CommonSettings, ReadLambdaSettings
from tests.integration.gateway.helpers import (
    ADMIN,
    TRACK,
    GatewayEnv,
    RecordingClient,
    gateway_settings,
)

#: The resource templates API Gateway proxies to the Lambda (infra/terraform's api_gateway).
RESOURCES = {
    "/v1/admin/stats": "/v1/admin/stats",
    "/v1/admin/sandboxes": "/v1/admin/sandboxes",
}

ProxyEvent = Callable[..., dict[str, Any]]
Invoke = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def _resource_of(path: str) -> tuple[str, dict[str, str] | None]:
    if path in RESOURCES:
        return RESOURCES[path], None
    parts = path.split("/")
    if len(parts) == 4 and parts[:3] == ["", "v1", "sandboxes"]:
        return "/v1/sandboxes/{sandbox_id}", {"sandbox_id": parts[3]}
    if (
        len(parts) == 6
        and parts[:4] == ["", "v1", "admin", "tenants"]
        and parts[5] == "track-tokens"
    ):
        return "/v1/admin/tenants/{name}/track-tokens", {"name": parts[4]}
    return path, None


@pytest.fixture
def proxy_event() -> ProxyEvent:
    """A factory: ``proxy_event("GET", "/v1/admin/stats", headers=..., query=...)``.

    The shape is API Gateway's REST proxy event: single- and multi-value headers and query
    parameters, the decoded path and its path parameters, the request context of a
    regional endpoint's ``live`` stage, and the headers API Gateway adds itself.
    """

    def make(
        method: str,
        path: str,
        *,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        query: dict[str, str] | list[tuple[str, str]] | None = None,
        body: str | None = None,
        role: str | None = None,
    ) -> dict[str, Any]:
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        pairs += [
            ("Host", "abc123.execute-api.eu-central-1.amazonaws.com"),
            ("X-Amzn-Trace-Id", "Root=1-5f84c7a1-0123456789abcdef01234567"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Port", "443"),
            ("X-Forwarded-Proto", "https"),
        ]
        multi_headers: dict[str, list[str]] = {}
        for name, value in pairs:
            multi_headers.setdefault(name, []).append(value)
        qpairs = list(query.items()) if isinstance(query, dict) else list(query or [])
        multi_query: dict[str, list[str]] = {}
        for name, value in qpairs:
            multi_query.setdefault(name, []).append(value)
        decoded = urllib.parse.unquote(path)
        resource, path_parameters = _resource_of(decoded)
        request_id = str(uuid.uuid4())
        return {
            "resource": resource,
            "path": decoded,
            "httpMethod": method,
            "headers": {k: v[-1] for k, v in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "r1",
                "resourcePath": resource,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": "23/Nov/2026:12:00:00 +0000",
                "path": f"/live{decoded}",
                "accountId": "123456789012",
                "protocol": "HTTP/1.1",
                "stage": "live",
                "domainPrefix": "abc123",
                "requestTimeEpoch": 1_795_435_200_123,
                "requestId": request_id,
                "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest"},
                "domainName": "abc123.execute-api.eu-central-1.amazonaws.com",
                "apiId": "abc123",
                "authorizer": {"principalId": role, "role": role} if role else None,
            },
            "body": body,
            "isBase64Encoded": False,
        }

    return make


@pytest.fixture(scope="session")
def lambda_thread() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda") as pool:
        yield pool


@pytest.fixture
def secrets_client(moto_url: str) -> Any:
    return boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1")


@dataclass
class Secrets:
    client: Any
    arns: dict[str, str]

    def put(self, role: str, value: str) -> None:
        self.client.put_secret_value(SecretId=self.arns[role], SecretString=value)


@pytest.fixture
def token_secrets(secrets_client: Any) -> Iterator[Secrets]:
    """The track and admin token secrets on moto, as the Terraform creates them."""
    stem = f"t{uuid.uuid4().hex[:10]}"
    arns = {
        role: secrets_client.create_secret(Name=f"{stem}/{role}-token", SecretString=token)["ARN"]
        for role, token in (("track", TRACK), ("admin", ADMIN))
    }
    try:
        yield Secrets(secrets_client, arns)
    finally:
        for arn in arns.values():
            secrets_client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def lambda_settings(
    common: CommonSettings, secrets: Secrets, **overrides: Any
) -> ReadLambdaSettings:
    return ReadLambdaSettings(
        name_prefix=common.name_prefix,
        aws_endpoint_url=common.aws_endpoint_url,
        track_token_secret_arn=secrets.arns["track"],
        admin_token_secret_arn=secrets.arns["admin"],
        **overrides,
    )


@dataclass
class Lambdas:
    """Opens read-Lambda runtimes on the Lambda thread and closes them after the test."""

    common: CommonSettings
    secrets: Secrets
    thread: ThreadPoolExecutor
    opened: list[Runtime] = field(default_factory=list)

    async def open(self, *, secrets: Any = None, **overrides: Any) -> Runtime:
        settings = lambda_settings(self.common, self.secrets, **overrides)
        client = secrets if secrets is not None else self.secrets.client
        loop = asyncio.get_running_loop()
        rt = await loop.run_in_executor(self.thread, lambda: Runtime(settings, secrets=client))
        self.opened.append(rt)
        return rt

    async def invoke(self, rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
        answer = await asyncio.get_running_loop().run_in_executor(self.thread, rt, event, None)
        # What API Gateway does with a proxy answer: it must be JSON-serialisable as is.
        json.dumps(answer)
        return dict(answer)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for rt in self.opened:
            await loop.run_in_executor(self.thread, rt.close)


@pytest.fixture
async def lambdas(
    provisioned: CommonSettings, token_secrets: Secrets, lambda_thread: ThreadPoolExecutor
) -> AsyncIterator[Lambdas]:
    opened = Lambdas(provisioned, token_secrets, lambda_thread)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def runtime(lambdas: Lambdas) -> Runtime:
    return await lambdas.open(cors_origins="https://lab.example")


@pytest.fixture
def invoke(runtime: Runtime, lambdas: Lambdas) -> Invoke:
    async def call(event: dict[str, Any]) -> dict[str, Any]:
        return await lambdas.invoke(runtime, event)

    return call


@pytest.fixture
async def local(provisioned: CommonSettings, sqs: Any, ddb: Any) -> AsyncIterator[GatewayEnv]:
    """The local gateway on the same tables, reached over https (as API Gateway is)."""
    settings = gateway_settings(
        provisioned, cors_origins="https://lab.example", rate_limit_burst=10_000
    )
    recording = RecordingClient(ddb)
    app = create_app(settings, sqs=sqs, ddb=recording)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.test") as client:
        yield GatewayEnv(settings=settings, client=client, sqs=sqs, ddb=recording)
