"""Tenants, both ways (v2): the VTL with the authorizer's tenant context and the local
gateway with the same tenant enqueue the same message (tenant included) and refuse the
same requests — a signed token's other track id and a prefix outside the tenant's: 403,
and a signed token past its exp: 401 (API Gateway still holds the authorizer's cached answer
from before the expiry, so the templates compare exp with the request time themselves)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from producers.gateway import create_app
from schemas.items import to_item
from schemas.settings import GatewaySettings
from schemas.tenants import TenantConfig, mint_for
from tests.infra.plan import by_key, one, plan
from tests.infra.test_gateway_parity import (
    ADMIN,
    PATHS,
    REQUEST_ID,
    TRACK,
    RecordingSQS,
    _comparable,
)
from tests.infra.test_gateway_parity import routes as routes
from tests.infra.vtl import FakeInput, render, send_message_params

SECRET = "parity-signing-secret-0123456789"
ACME = TenantConfig(name="acme", prefixes=("lab-aws", "lab-gcp"))


class TenantsDDB:
    """The tenants table as the gateway reads it: one tenant, acme."""

    async def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        if Key.get("SK", {}).get("S") == "acme":
            values = ACME.model_dump(mode="json")
            values["tokens"] = {}
            return {"Item": to_item(values)}
        return {}


@pytest.fixture
async def gateway_and_sqs() -> AsyncIterator[tuple[httpx.AsyncClient, RecordingSQS]]:
    sqs = RecordingSQS()
    settings = GatewaySettings(
        track_token=TRACK, admin_token=ADMIN, token_signing_secret=SECRET, rate_limit_burst=10_000
    )
    app = create_app(settings, sqs=sqs, ddb=TenantsDDB())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        yield client, sqs


def _token(track_id: str) -> str:
    token, _ = mint_for(ACME, track_id, ttl_s=3600, secret=SECRET, now=time.time())
    return token


CASES = [
    ("allocate", {"X-Instruqt-Sandbox-ID": "lab-1"}),
    ("allocate", {"X-Instruqt-Sandbox-ID": "lab-2"}),
    ("allocate", {"X-Instruqt-Sandbox-ID": "lab-1", "X-Sandbox-Name-Prefix": "lab-aws-eu"}),
    ("allocate", {"X-Instruqt-Sandbox-ID": "lab-1", "X-Sandbox-Name-Prefix": "lab-azure"}),
    ("allocate", {"X-Track-ID": "lab-1"}),
    ("release", {"X-Instruqt-Sandbox-ID": "lab-1"}),
    ("release", {"X-Instruqt-Sandbox-ID": "lab-9"}),
    ("extend", {"X-Instruqt-Sandbox-ID": "lab-1"}),
    ("extend", {"X-Instruqt-Sandbox-ID": "lab-9"}),
]


@pytest.mark.parametrize(("route", "headers"), CASES)
async def test_tenant_routes_agree(
    gateway_and_sqs: tuple[httpx.AsyncClient, RecordingSQS],
    routes: dict[str, dict[str, Any]],
    route: str,
    headers: dict[str, str],
) -> None:
    gateway, sqs = gateway_and_sqs
    authorizer = {
        "role": "track",
        "tenant": "acme",
        "track_id": "lab-1",
        "prefixes": ",".join(ACME.prefixes),
    }
    params = send_message_params(
        render(
            routes[route]["request"],
            input=FakeInput(headers=headers, path={"sandbox_id": "sbx-1"}),
            request_id=REQUEST_ID,
            authorizer=authorizer,
        ).body
    )
    aws: dict[str, Any] = {"refused": 403 if params.get("Action") == "RejectForbidden" else 400}
    if "MessageBody" in params:
        aws = {"message": _comparable(json.loads(params["MessageBody"]))}
    response = await gateway.post(
        PATHS[route].format(sandbox_id="sbx-1"),
        headers={"Authorization": f"Bearer {_token('lab-1')}", **headers},
    )
    local: dict[str, Any] = {"refused": response.status_code}
    if response.status_code == 202:
        local = {"message": _comparable(json.loads(sqs.sent[-1]["MessageBody"]))}
    assert aws == local
    if "message" in local:
        assert local["message"]["tenant"] == "acme"


def test_a_forbidden_refusal_is_answered_403() -> None:
    api = plan().child("api_gateway")
    response = by_key(api, "aws_api_gateway_integration_response", "enqueue_rejected")[
        "allocate"
    ].config()
    error = (
        "<ErrorResponse><Error><Code>InvalidAction</Code><Message>The action RejectForbidden "
        "is not valid for this endpoint.</Message></Error></ErrorResponse>"
    )
    rendered = render(
        response["response_templates"]["application/json"], input=FakeInput(body=error)
    )
    assert rendered.status == 403
    assert json.loads(rendered.body)["error"]["code"] == "FORBIDDEN"


def _expired_token(track_id: str) -> tuple[str, int]:
    """A token that was valid a while ago (and so may sit in API Gateway's cache)."""
    return mint_for(ACME, track_id, ttl_s=60, secret=SECRET, now=time.time() - 120)


def _signed_context(exp: int) -> dict[str, str]:
    """The authorizer's answer from before the expiry, as API Gateway cached it."""
    prefixes = ",".join(ACME.prefixes)
    return {
        "role": "track",
        "tenant": "acme",
        "track_id": "lab-1",
        "prefixes": prefixes,
        "exp": str(exp),
    }


def _sqs_refusal(action: str) -> str:
    return (
        f"<ErrorResponse><Error><Code>InvalidAction</Code><Message>The action {action} "
        "is not valid for this endpoint.</Message></Error></ErrorResponse>"
    )


@pytest.mark.parametrize("route", ["allocate", "release", "extend"])
async def test_a_signed_token_past_its_exp_is_401_on_both_hosts(
    gateway_and_sqs: tuple[httpx.AsyncClient, RecordingSQS], route: str
) -> None:
    gateway, sqs = gateway_and_sqs
    token, exp = _expired_token("lab-1")
    headers = {"X-Instruqt-Sandbox-ID": "lab-1"}
    api = plan().child("api_gateway")
    request = by_key(api, "aws_api_gateway_integration", "enqueue")[route]
    params = send_message_params(
        render(
            request.get("request_templates")["application/json"],
            input=FakeInput(headers=headers, path={"sandbox_id": "sbx-1"}),
            request_id=REQUEST_ID,
            request_time_epoch_ms=int(time.time() * 1000),
            authorizer=_signed_context(exp),
        ).body
    )
    assert "MessageBody" not in params
    rejected = by_key(api, "aws_api_gateway_integration_response", "enqueue_rejected")[route]
    aws = render(
        rejected.config()["response_templates"]["application/json"],
        input=FakeInput(body=_sqs_refusal(params["Action"])),
    )
    local = await gateway.post(
        PATHS[route].format(sandbox_id="sbx-1"),
        headers={"Authorization": f"Bearer {token}", **headers},
    )
    assert (aws.status, json.loads(aws.body)) == (local.status_code, local.json())
    assert aws.headers["WWW-Authenticate"] == local.headers["WWW-Authenticate"]
    assert not sqs.sent


async def test_a_reply_read_past_the_exp_is_401_on_both_hosts(
    gateway_and_sqs: tuple[httpx.AsyncClient, RecordingSQS],
) -> None:
    gateway, _ = gateway_and_sqs
    token, exp = _expired_token("lab-1")
    headers = {"X-Instruqt-Sandbox-ID": "lab-1"}
    api = plan().child("api_gateway")
    found = one(api, "aws_api_gateway_integration_response", "get_reply_found")
    aws = render(
        found.get("response_templates")["application/json"],
        input=FakeInput(body="{}", headers=headers, path={"request_id": REQUEST_ID}),
        request_time_epoch_ms=int(time.time() * 1000),
        authorizer=_signed_context(exp),
    )
    local = await gateway.get(
        f"/v1/requests/{REQUEST_ID}", headers={"Authorization": f"Bearer {token}", **headers}
    )
    assert (aws.status, json.loads(aws.body)) == (local.status_code, local.json())
