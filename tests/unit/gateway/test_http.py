"""The gateway over HTTP on fake AWS clients: auth, rate limit, error body, headers, CORS, logs.

(Over 400 lines: the steps every route takes, in order, each against the same fake app.)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs

from schemas.errors import ErrorCode
from schemas.messages import AllocateMessage
from schemas.replies import ErrorBody
from tests.unit.gateway.fakes import ADMIN, TRACK, FakeDDB, FakeSQS, admin_headers, track_headers

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}

#: (method, path, roles that may call it)
ROUTES = [
    ("POST", "/v1/allocate", {"track"}),
    ("POST", "/v1/sandboxes/sbx-1/mark-for-deletion", {"track"}),
    ("GET", "/v1/requests/req_1", {"track", "admin"}),
    ("GET", "/v1/sandboxes/sbx-1", {"track"}),
    ("GET", "/v1/admin/stats", {"admin"}),
    ("GET", "/v1/admin/sandboxes", {"admin"}),
    ("POST", "/v1/admin/sync", {"admin"}),
    ("POST", "/v1/admin/cleanup", {"admin"}),
    ("POST", "/v1/admin/expire", {"admin"}),
    ("POST", "/v1/admin/delete-stale", {"admin"}),
]


def assert_error(response: httpx.Response, status: int, code: ErrorCode | str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    if isinstance(code, ErrorCode):
        ErrorBody.model_validate(body)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


@pytest.fixture
async def open_client(make_app: Callable[..., FastAPI]) -> AsyncIterator[Callable[..., Any]]:
    """Clients on apps built with settings overrides, closed at the end."""
    clients: list[httpx.AsyncClient] = []

    def make(base_url: str = "http://gw.test", **overrides: Any) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=make_app(**overrides))
        c = httpx.AsyncClient(transport=transport, base_url=base_url)
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


# auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "_roles"), ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong", f"Basic {TRACK}", f"Token {ADMIN}", TRACK],
)
async def test_missing_or_invalid_token_is_401_with_www_authenticate(
    client: httpx.AsyncClient,
    fake_sqs: FakeSQS,
    method: str,
    path: str,
    _roles: set[str],
    authorization: str | None,
) -> None:
    headers = {"X-Instruqt-Sandbox-ID": "track-1"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await client.request(method, path, headers=headers)
    assert_error(response, 401, ErrorCode.UNAUTHORIZED)
    assert response.headers["www-authenticate"] == "Bearer"
    assert fake_sqs.sent == []


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES)
async def test_a_valid_token_on_a_route_not_its_own_is_403(
    client: httpx.AsyncClient, fake_sqs: FakeSQS, method: str, path: str, roles: set[str]
) -> None:
    for role, token in (("track", TRACK), ("admin", ADMIN)):
        if role in roles:
            continue
        headers = {"Authorization": f"Bearer {token}", "X-Instruqt-Sandbox-ID": "track-1"}
        response = await client.request(method, path, headers=headers)
        assert_error(response, 403, ErrorCode.FORBIDDEN)
    assert fake_sqs.sent == []


@pytest.mark.parametrize(("method", "path", "_roles"), ROUTES)
async def test_unconfigured_tokens_refuse_everything(
    open_client: Callable[..., httpx.AsyncClient], method: str, path: str, _roles: set[str]
) -> None:
    client = open_client(track_token=None, admin_token="")
    for token in ("", "None", TRACK, ADMIN):
        headers = {"Authorization": f"Bearer {token}", "X-Instruqt-Sandbox-ID": "track-1"}
        assert_error(await client.request(method, path, headers=headers), 401, "UNAUTHORIZED")


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"bearer {TRACK}", "X-Track-ID": "t"}
    assert (await client.post("/v1/allocate", headers=headers)).status_code == 202


async def test_track_token_needs_a_track_header_to_read_a_reply(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/requests/req_1", headers={"Authorization": f"Bearer {TRACK}"})
    assert_error(response, 400, ErrorCode.INVALID_REQUEST)


async def test_admin_token_reads_a_reply_without_a_track_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/requests/req_1", headers=admin_headers())
    assert response.status_code == 200
    assert response.json()["status"] == "pending"


# rate limit -------------------------------------------------------------------------------


async def test_over_the_budget_is_429_with_retry_after_per_track(
    open_client: Callable[..., httpx.AsyncClient], fake_sqs: FakeSQS
) -> None:
    client = open_client(rate_limit_per_min=60, rate_limit_burst=2)
    ok = [await client.post("/v1/allocate", headers=track_headers("a")) for _ in range(2)]
    assert [r.status_code for r in ok] == [202, 202]
    refused = await client.post("/v1/allocate", headers=track_headers("a"))
    assert_error(refused, 429, ErrorCode.RATE_LIMITED)
    assert refused.headers["retry-after"] == "1"
    # polling counts too: it is the same track's budget
    poll = await client.get("/v1/requests/req_1", headers=track_headers("a"))
    assert_error(poll, 429, ErrorCode.RATE_LIMITED)
    # another track has its own budget
    assert (await client.post("/v1/allocate", headers=track_headers("b"))).status_code == 202
    assert len(fake_sqs.sent) == 3


async def test_legacy_and_preferred_headers_share_the_track_budget(
    open_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = open_client(rate_limit_per_min=60, rate_limit_burst=1)
    assert (await client.post("/v1/allocate", headers=track_headers("a"))).status_code == 202
    legacy = {"Authorization": f"Bearer {TRACK}", "X-Track-ID": "a"}
    assert_error(await client.post("/v1/allocate", headers=legacy), 429, "RATE_LIMITED")


async def test_401s_do_not_spend_a_tracks_budget(
    open_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = open_client(rate_limit_per_min=60, rate_limit_burst=1)
    spoof = {"Authorization": "Bearer guess", "X-Instruqt-Sandbox-ID": "victim"}
    for _ in range(5):
        assert (await client.post("/v1/allocate", headers=spoof)).status_code == 401
    assert (await client.post("/v1/allocate", headers=track_headers("victim"))).status_code == 202


async def test_admin_calls_have_their_own_budget(
    open_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = open_client(
        rate_limit_per_min=60, rate_limit_burst=1, admin_rate_limit_per_min=60,
        admin_rate_limit_burst=2,
    )  # fmt: skip
    assert (await client.post("/v1/allocate", headers=track_headers("a"))).status_code == 202
    assert (await client.post("/v1/allocate", headers=track_headers("a"))).status_code == 429
    statuses = [(await client.get("/v1/admin/stats", headers=admin_headers())).status_code]
    statuses.append((await client.get("/v1/requests/x", headers=admin_headers())).status_code)
    statuses.append((await client.post("/v1/admin/sync", headers=admin_headers())).status_code)
    assert statuses == [200, 200, 429]
    assert (await client.post("/v1/allocate", headers=track_headers("b"))).status_code == 202


# bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"{}", b" { } \n", b"{}" + b" " * (16_384 - 2)])
async def test_an_empty_body_or_empty_object_is_accepted(
    client: httpx.AsyncClient, fake_sqs: FakeSQS, body: bytes
) -> None:
    response = await client.post("/v1/allocate", headers=track_headers(), content=body)
    assert response.status_code == 202
    assert len(fake_sqs.sent) == 1


@pytest.mark.parametrize(
    "body",
    [b"[]", b"null", b'""', b"0", b'{"track_id": "x"}', b"{", b"not json", b"\xff\xfe", b"{}{}"],
)
async def test_any_other_body_is_400(
    client: httpx.AsyncClient, fake_sqs: FakeSQS, body: bytes
) -> None:
    for path in ("/v1/allocate", "/v1/sandboxes/sbx-1/mark-for-deletion"):
        response = await client.post(path, headers=track_headers(), content=body)
        assert_error(response, 400, ErrorCode.INVALID_REQUEST)
    response = await client.post("/v1/admin/cleanup", headers=admin_headers(), content=body)
    assert_error(response, 400, ErrorCode.INVALID_REQUEST)
    assert fake_sqs.sent == []


async def test_a_body_over_16_kib_is_413_declared_or_streamed(
    client: httpx.AsyncClient, fake_sqs: FakeSQS
) -> None:
    big = b" " * 16_385
    declared = await client.post("/v1/allocate", headers=track_headers(), content=big)
    assert_error(declared, 413, ErrorCode.PAYLOAD_TOO_LARGE)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(17):
            yield b" " * 1024

    streamed = await client.post("/v1/allocate", headers=track_headers(), content=chunks())
    assert "content-length" not in streamed.request.headers
    assert_error(streamed, 413, ErrorCode.PAYLOAD_TOO_LARGE)
    admin = await client.post("/v1/admin/expire", headers=admin_headers(), content=big)
    assert_error(admin, 413, ErrorCode.PAYLOAD_TOO_LARGE)
    assert fake_sqs.sent == []


# error body everywhere --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "code"),
    [
        ("GET", "/", {}, 404, ErrorCode.NOT_FOUND),
        ("GET", "/v2/allocate", {}, 404, ErrorCode.NOT_FOUND),
        ("POST", "/v1/admin/reboot", admin_headers(), 404, ErrorCode.NOT_FOUND),
        ("POST", "/v1/admin/delete_stale", admin_headers(), 404, ErrorCode.NOT_FOUND),
        ("GET", "/v1/allocate", track_headers(), 405, ErrorCode.METHOD_NOT_ALLOWED),
        ("DELETE", "/v1/requests/req_1", track_headers(), 405, ErrorCode.METHOD_NOT_ALLOWED),
        ("PUT", "/v1/admin/stats", admin_headers(), 405, ErrorCode.METHOD_NOT_ALLOWED),
        ("GET", "/v1/admin/sync", admin_headers(), 405, ErrorCode.METHOD_NOT_ALLOWED),
        ("OPTIONS", "/v1/allocate", {}, 405, ErrorCode.METHOD_NOT_ALLOWED),
        ("GET", "/v1/requests/req.1", track_headers(), 400, ErrorCode.INVALID_REQUEST),
        ("GET", "/v1/sandboxes/a%20b", track_headers(), 400, ErrorCode.INVALID_REQUEST),
        ("POST", "/v1/sandboxes/a@b!/mark-for-deletion", track_headers(), 400, "INVALID_REQUEST"),
        ("GET", "/v1/admin/sandboxes?limit=0", admin_headers(), 400, ErrorCode.INVALID_REQUEST),
        ("GET", "/v1/admin/sandboxes?status=x", admin_headers(), 400, ErrorCode.INVALID_REQUEST),
        ("GET", "/v1/admin/sandboxes?cursor=x.y", admin_headers(), 400, ErrorCode.INVALID_REQUEST),
        ("POST", "/v1/allocate", {"Authorization": f"Bearer {TRACK}"}, 400, "INVALID_REQUEST"),
    ],
)
async def test_every_error_uses_the_error_body(
    client: httpx.AsyncClient,
    fake_sqs: FakeSQS,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
    code: ErrorCode,
) -> None:
    response = await client.request(method, path, headers=headers)
    assert_error(response, status, code)
    if status == 405:
        assert response.headers["allow"]
    assert fake_sqs.sent == []


async def test_a_queue_failure_is_503_never_500(
    client: httpx.AsyncClient, fake_sqs: FakeSQS
) -> None:
    fake_sqs.fail = ConnectionError("sqs is down")
    for path, headers in [
        ("/v1/allocate", track_headers()),
        ("/v1/sandboxes/sbx-1/mark-for-deletion", track_headers()),
        ("/v1/admin/sync", admin_headers()),
    ]:
        assert_error(await client.post(path, headers=headers), 503, ErrorCode.QUEUE_UNAVAILABLE)
    metrics = (await client.get("/metrics")).text
    assert 'broker_enqueue_failures_total{action="allocate"} 1.0' in metrics
    assert 'broker_enqueue_failures_total{action="sync"} 1.0' in metrics


async def test_a_table_failure_is_503(client: httpx.AsyncClient, fake_ddb: FakeDDB) -> None:
    fake_ddb.fail = TimeoutError()
    for path, headers in [
        ("/v1/requests/req_1", track_headers()),
        ("/v1/sandboxes/sbx-1", track_headers()),
        ("/v1/admin/stats", admin_headers()),
        ("/v1/admin/sandboxes", admin_headers()),
    ]:
        assert_error(await client.get(path, headers=headers), 503, ErrorCode.QUEUE_UNAVAILABLE)


async def test_an_unexpected_failure_is_a_logged_500_in_the_error_body(
    client: httpx.AsyncClient, fake_ddb: FakeDDB
) -> None:
    # A reply row no consumer would write: decoding it fails inside the route.
    fake_ddb.items[("sandbox-replies", "req_bad")] = {"request_id": {"S": "req_bad"}}
    with capture_logs() as logs:
        response = await client.get("/v1/requests/req_bad", headers=admin_headers())
    assert_error(response, 500, "INTERNAL")
    assert any(e["event"] == "unhandled_error" and e["log_level"] == "error" for e in logs)


# security headers and CORS ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/v1/allocate", track_headers()),
        ("GET", "/v1/requests/req_1", track_headers()),
        ("POST", "/v1/allocate", {}),
        ("GET", "/nowhere", {}),
        ("GET", "/healthz", {}),
        ("GET", "/readyz", {}),
        ("GET", "/metrics", {}),
        ("GET", "/openapi.json", {}),
        ("GET", "/docs", {}),
    ],
)
async def test_security_headers_on_every_response_and_hsts_only_over_https(
    open_client: Callable[..., httpx.AsyncClient],
    method: str,
    path: str,
    headers: dict[str, str],
) -> None:
    plain = await open_client().request(method, path, headers=headers)
    secure = await open_client("https://gw.test").request(method, path, headers=headers)
    for response in (plain, secure):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
    assert "strict-transport-security" not in plain.headers
    assert secure.headers["strict-transport-security"].startswith("max-age=")


def _preflight(origin: str, *, method: str = "POST", headers: str = "") -> dict[str, str]:
    out = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        out["Access-Control-Request-Headers"] = headers
    return out


SEED_HEADERS = (
    "authorization, content-type, x-instruqt-sandbox-id, x-instruqt-track-id, x-track-id, "
    "x-sandbox-name-prefix, idempotency-key"
)


async def test_cors_allows_no_origin_by_default(client: httpx.AsyncClient) -> None:
    preflight = await client.options("/v1/allocate", headers=_preflight("https://lab.example"))
    assert_error(preflight, 403, ErrorCode.FORBIDDEN)
    assert "access-control-allow-origin" not in preflight.headers
    actual = await client.post(
        "/v1/allocate", headers={**track_headers(), "Origin": "https://lab.example"}
    )
    assert actual.status_code == 202
    assert "access-control-allow-origin" not in actual.headers


async def test_cors_preflight_from_a_configured_origin_allows_the_seeds_headers(
    open_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = open_client(cors_origins="https://lab.example, https://other.example")
    response = await client.options(
        "/v1/allocate", headers=_preflight("https://lab.example", headers=SEED_HEADERS)
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://lab.example"
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {h.strip() for h in SEED_HEADERS.split(",")} <= allowed
    assert set(response.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
    assert "origin" in response.headers["vary"].lower()
    assert "access-control-allow-credentials" not in response.headers
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


@pytest.mark.parametrize(
    "headers",
    [
        _preflight("https://evil.example"),
        _preflight("https://lab.example", headers="X-Evil"),
        _preflight("https://lab.example", method="DELETE"),
        _preflight("null"),
    ],
)
async def test_cors_preflight_outside_the_policy_is_403(
    open_client: Callable[..., httpx.AsyncClient], headers: dict[str, str]
) -> None:
    client = open_client(cors_origins="https://lab.example")
    assert_error(await client.options("/v1/allocate", headers=headers), 403, ErrorCode.FORBIDDEN)


async def test_cors_answers_expose_retry_after_to_allowed_origins_only(
    open_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = open_client(cors_origins="https://lab.example")
    allowed = await client.post(
        "/v1/allocate", headers={**track_headers(), "Origin": "https://lab.example"}
    )
    assert allowed.headers["access-control-allow-origin"] == "https://lab.example"
    assert "Retry-After" in allowed.headers["access-control-expose-headers"]
    other = await client.post(
        "/v1/allocate", headers={**track_headers(), "Origin": "https://evil.example"}
    )
    assert other.status_code == 202  # CORS is the browser's to enforce; the token is ours
    assert "access-control-allow-origin" not in other.headers


# enqueue ----------------------------------------------------------------------------------


async def test_allocate_enqueues_one_message_and_answers_202(
    client: httpx.AsyncClient, fake_sqs: FakeSQS
) -> None:
    headers = track_headers("inst-7", **{"X-Track-ID": "legacy-7", "X-Instruqt-Track-ID": "aws"})
    response = await client.post("/v1/allocate", headers=headers)
    assert response.status_code == 202
    body = response.json()
    request_id = body["request_id"]
    assert request_id.startswith("req_") and len(request_id) == 30
    assert body == {
        "request_id": request_id,
        "action": "allocate",
        "status": "pending",
        "poll": f"/v1/requests/{request_id}",
    }
    assert response.headers["location"] == f"/v1/requests/{request_id}"
    assert response.headers["retry-after"] == "1"
    (sent,) = fake_sqs.sent
    assert sent["QueueUrl"].endswith("/sandbox-requests.fifo")
    assert sent["MessageGroupId"] == "inst-7"
    assert sent["MessageDeduplicationId"] == request_id
    message = AllocateMessage.model_validate_json(sent["MessageBody"])
    assert (message.track_id, message.track_name, message.request_id) == (
        "inst-7",
        "aws",
        request_id,
    )


# health, metrics, logs, OpenAPI ------------------------------------------------------------


async def test_healthz_always_200_and_readyz_names_resources_to_the_admin_only(
    client: httpx.AsyncClient, fake_ddb: FakeDDB
) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"sqs": "ok", "dynamodb": "ok"}
    fake_ddb.fail = TimeoutError()
    with capture_logs() as logs:
        not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503
    body = not_ready.json()
    assert body["error"]["code"] == "QUEUE_UNAVAILABLE"
    assert body["checks"] == {"sqs": "ok", "dynamodb": "error: TimeoutError"}
    # an anonymous caller learns which kind of dependency failed, never its name
    assert "sandbox-" not in not_ready.text
    [line] = [e for e in logs if e["event"] == "not_ready"]
    assert line["failed"] == ["dynamodb:sandbox-replies"]  # operators read it in the log
    for headers in ({"Authorization": "Bearer wrong"}, track_headers()):
        assert "sandbox-" not in (await client.get("/readyz", headers=headers)).text
    named = await client.get("/readyz", headers=admin_headers())
    assert named.status_code == 503
    assert named.json()["checks"] == {
        "sqs:sandbox-requests.fifo": "ok",
        "dynamodb:sandbox-replies": "error: TimeoutError",
    }
    assert "dynamodb:sandbox-replies" in named.json()["error"]["message"]
    assert (await client.get("/healthz")).status_code == 200


async def test_metrics_count_requests_by_route_template_and_rate_limits(
    open_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = open_client(rate_limit_burst=1)
    await client.get("/v1/requests/req_AAA", headers=track_headers())
    await client.get("/v1/requests/req_BBB", headers=track_headers())
    await client.get("/no/such/path")
    await client.get("/openapi.json")
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{endpoint="/openapi.json",method="GET",status="200"} 1.0' in text
    assert (
        'http_requests_total{endpoint="/v1/requests/{request_id}",method="GET",status="200"} 1.0'
        in text
    )
    assert (
        'http_requests_total{endpoint="/v1/requests/{request_id}",method="GET",status="429"} 1.0'
        in text
    )
    assert 'endpoint="unmatched"' in text
    assert "req_AAA" not in text
    assert 'broker_rate_limited_total{scope="track"} 1.0' in text
    assert "broker_request_latency_seconds_bucket" in text


async def test_one_log_line_per_request_with_the_contract_fields_and_no_secrets(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs() as logs:
        ok = await client.post(
            "/v1/allocate", headers=track_headers("inst-9"), content=b'{"secret": 1}'
        )
        accepted = await client.post("/v1/allocate", headers=track_headers("inst-9"))
        await client.get("/v1/admin/stats", headers={"Authorization": "Bearer not-the-token"})
    assert ok.status_code == 400 and accepted.status_code == 202
    lines = [e for e in logs if e["event"] == "http_request"]
    assert len(lines) == 3
    bad_body, enqueued, unauthorized = lines
    assert bad_body["outcome"] == "invalid_request" and bad_body["track_id"] == "inst-9"
    assert enqueued["request_id"] == accepted.json()["request_id"]
    assert enqueued["action"] == "allocate" and enqueued["outcome"] == "accepted"
    assert enqueued["track_id"] == "inst-9" and enqueued["status"] == 202
    assert isinstance(enqueued["latency_ms"], float)
    assert unauthorized["outcome"] == "unauthorized" and "track_id" not in unauthorized
    dumped = json.dumps(logs, default=str)
    for secret in (TRACK, ADMIN, "not-the-token", "secret"):
        assert secret not in dumped


async def test_openapi_describes_every_route_header_scheme_and_error(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert set(doc["components"]["securitySchemes"]) == {"trackToken", "adminToken"}
    paths = doc["paths"]
    for method, path, _ in ROUTES:
        template = path.replace("sbx-1", "{sandbox_id}").replace("req_1", "{request_id}")
        operation = paths[template][method.lower()]
        assert operation["security"]
        for status in ("401", "429", "500"):
            assert status in operation["responses"], (path, status)
        assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    allocate = paths["/v1/allocate"]["post"]
    headers = {p["name"]: p for p in allocate["parameters"] if p["in"] == "header"}
    assert set(headers) == {
        "X-Instruqt-Sandbox-ID",
        "X-Track-ID",
        "X-Instruqt-Track-ID",
        "X-Sandbox-Name-Prefix",
        "Idempotency-Key",
        "X-Wait-For-Sandbox-S",
    }
    assert headers["X-Sandbox-Name-Prefix"]["schema"]["pattern"] == "^[A-Za-z0-9._:@-]{0,64}$"
    assert set(allocate["responses"]["202"]["headers"]) == {"Location", "Retry-After"}
    for health in ("/healthz", "/readyz", "/metrics"):
        assert paths[health]["get"]["security"] == []
    assert (await client.get("/docs")).status_code == 200
