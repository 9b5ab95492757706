"""CORS and wrong methods on AWS answer as the local gateway does.

Each request goes both ways: through the Terraform's MOCK and integration-response
templates (rendered with airspeed, the response parameters applied as API Gateway applies
them) and to the local gateway in process (over https, on in-memory SQS and DynamoDB
stand-ins: no call reaches them but the enqueue and the reply read). Status, body and
the CORS, Allow and security headers must agree.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from producers.gateway import create_app
from producers.gateway.middleware import CORS_EXPOSED, CORS_MAX_AGE_S, CORS_METHODS
from producers.gateway.validation import ALLOWED_REQUEST_HEADERS
from schemas.settings import GatewaySettings
from tests.infra.plan import by_key, plan
from tests.infra.vtl import FakeInput, render
from tests.unit.gateway.fakes import FakeDDB, FakeSQS

TRACK = "cors-track-token-" + "t" * 16
ADMIN = "cors-admin-token-" + "a" * 16
ORIGINS = ["https://lab.example", "https://other.example"]
ALLOWED = "https://lab.example"
SEED_HEADERS = (
    "authorization, content-type, x-instruqt-sandbox-id, x-instruqt-track-id, x-track-id, "
    "x-sandbox-name-prefix, idempotency-key"
)
#: The headers compared: CORS, Allow and the security headers.
COMPARED = (
    "access-control-allow-origin",
    "access-control-expose-headers",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "vary",
    "allow",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cache-control",
    "strict-transport-security",
)


@pytest.fixture(scope="module", params=[ORIGINS, ["*"], []], ids=["two-origins", "any", "none"])
def origins(request: pytest.FixtureRequest) -> list[str]:
    return request.param


@pytest.fixture(scope="module")
def api(origins: list[str]) -> Any:
    return plan(cors_origins=origins).child("api_gateway")


@pytest.fixture
async def local(origins: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        track_token=TRACK, admin_token=ADMIN, cors_origins=origins, rate_limit_burst=10_000
    )
    app = create_app(settings, sqs=FakeSQS(), ddb=FakeDDB())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.test") as client:
        yield client


def _static(parameters: dict[str, str]) -> dict[str, str]:
    """method.response.header.X = "'v'" -> {x: v} (what API Gateway sends for static values)."""
    out = {}
    for key, value in parameters.items():
        name = key.removeprefix("method.response.header.").lower()
        assert value.startswith("'") and value.endswith("'"), (key, value)
        out[name] = value[1:-1]
    return out


def answer(
    integration_response: dict[str, Any], headers: dict[str, str], status: int, **context: Any
) -> tuple[int, dict[str, str], str]:
    """An integration response as API Gateway sends it: static parameters, then overrides."""
    rendered = render(
        integration_response["response_templates"]["application/json"],
        input=FakeInput(headers=headers),
        **context,
    )
    out = _static(integration_response.get("response_parameters") or {})
    out.update({k.lower(): v for k, v in rendered.headers.items()})
    return rendered.status or status, out, rendered.body


def aws_options(api: Any, route: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    request = by_key(api, "aws_api_gateway_integration", "preflight")[route].config()
    template = request["request_templates"]["application/json"]
    status = json.loads(render(template, input=FakeInput(headers=headers)).body)["statusCode"]
    responses = [
        by_key(api, "aws_api_gateway_integration_response", name)[route].config()
        for name in ("preflight_allowed", "preflight_refused", "preflight_other")
    ]
    chosen = [r for r in responses if r.get("selection_pattern") == str(status)] or [
        r
        for r in responses
        if r.get("selection_pattern") is None  # the default
    ]
    assert chosen[0]["status_code"] == str(status)
    return answer(chosen[0], headers, status)


def compared(headers: dict[str, str] | httpx.Headers) -> dict[str, str]:
    return {k: headers[k] for k in COMPARED if k in headers}


def body_of(text: str) -> Any:
    return json.loads(text) if text.strip() else None


PREFLIGHTS = {
    "allowed": {"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    "seed headers": {
        "Origin": ALLOWED,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": SEED_HEADERS,
    },
    "lower-case names": {"origin": ALLOWED, "access-control-request-method": "get"},
    "other origin": {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    "a header outside the policy": {
        "Origin": ALLOWED,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-Evil",
    },
    "a method outside the policy": {"Origin": ALLOWED, "Access-Control-Request-Method": "DELETE"},
    "origin null": {"Origin": "null", "Access-Control-Request-Method": "POST"},
    "not a preflight: no method": {"Origin": ALLOWED},
    "not a preflight: no origin": {"Access-Control-Request-Method": "POST"},
    "plain OPTIONS": {},
}
ROUTES = {
    "allocate": "/v1/allocate",
    "release": "/v1/sandboxes/sbx-1/mark-for-deletion",
    "reply": "/v1/requests/req_1",
    "sandbox": "/v1/sandboxes/sbx-1",
    "admin-stats": "/v1/admin/stats",
    "admin-sandboxes": "/v1/admin/sandboxes",
    "admin-sync": "/v1/admin/sync",
    "admin-delete-stale": "/v1/admin/delete-stale",
    "healthz": "/healthz",
}


@pytest.mark.parametrize("case", PREFLIGHTS, ids=list(PREFLIGHTS))
@pytest.mark.parametrize("route", ["allocate", "sandbox", "admin-sync"])
async def test_options_answers_as_the_local_gateway(
    api: Any, local: httpx.AsyncClient, case: str, route: str
) -> None:
    headers = PREFLIGHTS[case]
    status, aws_headers, aws_body = aws_options(api, route, headers)
    here = await local.options(ROUTES[route], headers=headers)
    assert status == here.status_code
    assert body_of(aws_body) == (here.json() if here.content else None)
    assert compared(aws_headers) == compared(here.headers)


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "HEAD", "WRONG"])
async def test_any_other_method_is_405_with_allow_as_locally(
    api: Any, local: httpx.AsyncClient, route: str, method: str
) -> None:
    if method == "WRONG":  # a method of another route on this one
        method = (
            "GET"
            if route in {"allocate", "release", "admin-sync", "admin-delete-stale"}
            else "POST"
        )
    headers = {"Origin": ALLOWED, "Authorization": f"Bearer {TRACK}"}
    other = by_key(api, "aws_api_gateway_integration_response", "other")[route].config()
    status, aws_headers, aws_body = answer(other, headers, 405)
    here = await local.request(method, ROUTES[route], headers=headers)
    assert status == here.status_code == 405
    if method != "HEAD":  # a HEAD answer has no body locally
        assert body_of(aws_body) == here.json()
    assert compared(aws_headers) == compared(here.headers)


def test_every_route_resource_answers_options_and_other_methods(api: Any) -> None:
    """Every resource with a method of its own has the preflight and the 405 MOCKs."""
    own = {
        m.get("resource_id")
        for m in api.instances("aws_api_gateway_method")
        if m.name in {"enqueue", "get_reply", "code", "healthz"}
    }
    for name in ("preflight", "other"):
        covered = {
            m.get("resource_id") for m in by_key(api, "aws_api_gateway_method", name).values()
        }
        assert covered == own, name
    for method in by_key(api, "aws_api_gateway_method", "other").values():
        assert method.get("http_method") == "ANY"
        assert method.get("authorization") == "NONE"


@pytest.mark.parametrize("origin", [ALLOWED, "https://other.example", "https://evil.example", None])
async def test_an_accepted_post_carries_cors_headers_as_locally(
    api: Any, local: httpx.AsyncClient, origin: str | None
) -> None:
    headers = {"Authorization": f"Bearer {TRACK}", "X-Instruqt-Sandbox-ID": "lab-1"}
    if origin:
        headers["Origin"] = origin
    accepted = by_key(api, "aws_api_gateway_integration_response", "enqueue_accepted")["allocate"]
    status, aws_headers, _ = answer(accepted.config(), headers, 202)
    here = await local.post("/v1/allocate", headers=headers)
    assert status == here.status_code == 202
    ours = {k: v for k, v in compared(aws_headers).items()}
    theirs = compared(here.headers)
    assert ours == theirs


@pytest.mark.parametrize("origin", [ALLOWED, "https://evil.example"])
async def test_a_reply_read_and_its_refusals_carry_cors_headers_as_locally(
    api: Any, local: httpx.AsyncClient, origin: str
) -> None:
    headers = {
        "Authorization": f"Bearer {TRACK}",
        "X-Instruqt-Sandbox-ID": "lab-1",
        "Origin": origin,
    }
    found = next(
        i
        for i in api.instances("aws_api_gateway_integration_response")
        if i.name == "get_reply_found"
    )
    _, aws_headers, _ = answer(found.config(), headers, 200, authorizer={"role": "track"})
    here = await local.get("/v1/requests/req_1", headers=headers)
    assert here.status_code == 200
    assert compared(aws_headers) == compared(here.headers)


def test_the_policy_is_the_local_gateways(api: Any) -> None:
    ev = plan(cors_origins=ORIGINS).child("api_gateway")
    assert ev.local("cors_allowed_headers") == list(ALLOWED_REQUEST_HEADERS)
    assert ev.local("cors_methods") == list(CORS_METHODS)
    assert ev.local("cors_exposed") == CORS_EXPOSED
    assert ev.local("cors_max_age_s") == CORS_MAX_AGE_S


def test_api_gateways_own_answers_name_the_origin_they_can(origins: list[str], api: Any) -> None:
    responses = [
        r.config() for r in by_key(api, "aws_api_gateway_gateway_response", "contract").values()
    ]
    for config in responses:
        params = config["response_parameters"]
        allow = params.get("gatewayresponse.header.Access-Control-Allow-Origin")
        if not origins:
            assert allow is None
        else:
            # several origins (or any): the request's Origin, echoed; see cors.tf
            assert allow == "method.request.header.Origin"
            assert params["gatewayresponse.header.Vary"] == "'Origin'"
    single = plan(cors_origins=[ALLOWED]).child("api_gateway")
    for r in by_key(single, "aws_api_gateway_gateway_response", "contract").values():
        params = r.config()["response_parameters"]
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{ALLOWED}'"
