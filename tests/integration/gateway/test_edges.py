"""The gateway's edges as API Gateway has them, over a real uvicorn socket: header blocks
over 10 KiB and wrong methods are refused in the contract's error body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from producers.gateway import create_app
from producers.gateway.middleware import header_block_bytes
from producers.gateway.server import SERVER_MAX_HEAD_BYTES, GatewayServer
from schemas.errors import ErrorCode
from schemas.settings import API_GATEWAY_MAX_HEADER_BYTES, CommonSettings
from tests.integration.gateway.helpers import admin, gateway_settings, track

pytestmark = pytest.mark.integration


@pytest.fixture
async def served(provisioned: CommonSettings, sqs: Any, ddb: Any) -> AsyncIterator[str]:
    app = create_app(gateway_settings(provisioned), sqs=sqs, ddb=ddb)
    server = GatewayServer(app, host="127.0.0.1", port=0)
    serving = asyncio.create_task(server.serve())
    try:
        yield server.url
    finally:
        server.stop()
        await asyncio.wait_for(serving, timeout=15)


def counted(request: httpx.Request) -> int:
    """API Gateway's count for a request: request line plus header values."""
    line = f"{request.method} {request.url.raw_path.decode()} HTTP/1.1"
    return len(line) + sum(len(v) for _, v in request.headers.raw)


def padded(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], total: int
) -> httpx.Request:
    """A GET whose request line and header values come to exactly ``total`` bytes."""
    base = client.build_request("GET", path, headers={**headers, "X-Pad": ""})
    pad = total - counted(base)
    assert pad >= 0
    return client.build_request("GET", path, headers={**headers, "X-Pad": "p" * pad})


def assert_contract_error(response: httpx.Response, status: int, code: ErrorCode) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == code
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_header_block_of_exactly_10_kib_is_served(served: str) -> None:
    async with httpx.AsyncClient(base_url=served) as client:
        request = padded(client, "/v1/admin/stats", admin(), API_GATEWAY_MAX_HEADER_BYTES)
        assert counted(request) == API_GATEWAY_MAX_HEADER_BYTES
        assert (await client.send(request)).status_code == 200


@pytest.mark.parametrize(
    "total",
    [API_GATEWAY_MAX_HEADER_BYTES + 1, 64 * 1024, SERVER_MAX_HEAD_BYTES - 4096],
    ids=["one-byte-over", "64KiB", "just-under-the-server-limit"],
)
async def test_a_larger_header_block_is_400_in_the_contract_body_before_auth(
    served: str, total: int
) -> None:
    async with httpx.AsyncClient(base_url=served) as client:
        for headers in (track("edge-1"), {"Authorization": "Bearer wrong"}, {}):
            response = await client.send(padded(client, "/v1/sandboxes/sbx-1", headers, total))
            assert_contract_error(response, 400, ErrorCode.INVALID_REQUEST)
            assert "10240 bytes" in response.json()["error"]["message"]


async def test_the_count_is_request_line_and_header_values() -> None:
    """What the middleware counts is what the test's requests count (one definition)."""
    scope = {
        "method": "GET",
        "path": "/v1/admin/sandboxes",
        "raw_path": b"/v1/admin/sandboxes",
        "query_string": b"limit=5",
        "http_version": "1.1",
        "headers": [(b"authorization", b"Bearer abc"), (b"x-pad", b"")],
    }
    line = len("GET /v1/admin/sandboxes?limit=5 HTTP/1.1")
    assert header_block_bytes(scope) == line + len("Bearer abc")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/allocate", {"POST"}),
        ("GET", "/v1/allocate", {"POST"}),
        ("PUT", "/v1/sandboxes/sbx-1", {"GET"}),
        ("PATCH", "/v1/requests/req_1", {"GET"}),
        ("POST", "/v1/admin/stats", {"GET"}),
        ("GET", "/v1/admin/cleanup", {"POST"}),
    ],
)
async def test_a_wrong_method_on_a_known_route_is_405_whatever_the_token(
    served: str, method: str, path: str, allow: set[str]
) -> None:
    async with httpx.AsyncClient(base_url=served) as client:
        for headers in (track("edge-2"), admin(), {}):
            response = await client.request(method, path, headers=headers)
            assert_contract_error(response, 405, ErrorCode.METHOD_NOT_ALLOWED)
            assert set(response.headers["allow"].split(", ")) == allow
