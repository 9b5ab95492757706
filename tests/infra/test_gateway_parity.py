"""API Gateway's templates and the local gateway accept, refuse and enqueue the same requests.

Each request goes both ways: rendered through the Terraform's VTL (airspeed) and sent to the
local gateway (producers.gateway, in process, on a recording SQS stand-in). Accepted by one
means accepted by the other, with the same message (request_id and requested_at aside),
group id, attributes and 202 body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from producers.gateway import create_app
from schemas.settings import GatewaySettings
from tests.infra.plan import by_key, plan
from tests.infra.vtl import FakeInput, render, send_message_params
from tests.infra.vtl import message_attributes as form_attributes

TRACK = "parity-track-token-" + "t" * 16
ADMIN = "parity-admin-token-" + "a" * 16
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


class RecordingSQS:
    """The two SQS calls the local gateway makes to enqueue, recorded."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def get_queue_url(self, *, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": f"https://sqs.local/000000000000/{QueueName}"}

    async def send_message(self, **kwargs: Any) -> dict[str, str]:
        self.sent.append(kwargs)
        return {"MessageId": f"m-{len(self.sent)}"}


class NoTenantsDDB:
    """The tenants lookup of the settings' track token: no tenant item (tenant default)."""

    async def get_item(self, **_: Any) -> dict[str, Any]:
        return {}


@pytest.fixture
def sqs() -> RecordingSQS:
    return RecordingSQS()


@pytest.fixture
async def gateway(sqs: RecordingSQS) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(track_token=TRACK, admin_token=ADMIN, rate_limit_burst=10_000)
    app = create_app(settings, sqs=sqs, ddb=NoTenantsDDB())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        yield client


@pytest.fixture(scope="module")
def routes() -> dict[str, dict[str, Any]]:
    api = plan().child("api_gateway")
    integrations = by_key(api, "aws_api_gateway_integration", "enqueue")
    accepted = by_key(api, "aws_api_gateway_integration_response", "enqueue_accepted")
    return {
        key: {
            "request": integrations[key].get("request_templates")["application/json"],
            "accepted": accepted[key].get("response_templates")["application/json"],
        }
        for key in integrations
    }


PATHS = {
    "allocate": "/v1/allocate",
    "release": "/v1/sandboxes/{sandbox_id}/mark-for-deletion",
    "extend": "/v1/sandboxes/{sandbox_id}/extend",
    "admin-sync": "/v1/admin/sync",
    "admin-cleanup": "/v1/admin/cleanup",
    "admin-expire": "/v1/admin/expire",
    "admin-delete-stale": "/v1/admin/delete-stale",
    "admin-sandbox-retry": "/v1/admin/sandboxes/{sandbox_id}/retry",
    "admin-sandbox-quarantine": "/v1/admin/sandboxes/{sandbox_id}/quarantine",
    "admin-sandbox-release": "/v1/admin/sandboxes/{sandbox_id}/release",
}


def _comparable(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in {"request_id", "requested_at"}}


async def both(
    gateway: httpx.AsyncClient,
    sqs: RecordingSQS,
    routes: dict[str, dict[str, Any]],
    route: str,
    *,
    headers: dict[str, str],
    body: str = "",
    sandbox_id: str = "2012220",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What API Gateway would enqueue and answer, and what the local gateway did."""
    token = ADMIN if route.startswith("admin-") else TRACK
    # API Gateway
    params = send_message_params(
        render(
            routes[route]["request"],
            input=FakeInput(headers=headers, body=body, path={"sandbox_id": sandbox_id}),
            request_id=REQUEST_ID,
            authorizer={"role": "admin" if token == ADMIN else "track"},
        ).body
    )
    # A refused request: what SQS answers the template's refusal with, as the API answers it.
    aws: dict[str, Any] = {
        "refused": 413 if params.get("Action") == "RejectPayloadTooLarge" else 400
    }
    if "MessageBody" in params:
        aws = {
            "message": _comparable(json.loads(params["MessageBody"])),
            "group": params["MessageGroupId"],
            "dedup_is_request_id": params["MessageDeduplicationId"] == REQUEST_ID,
            "attributes": {k: v for k, v in form_attributes(params).items() if k != "request_id"},
        }
        answer = json.loads(
            render(routes[route]["accepted"], input=FakeInput(), request_id=REQUEST_ID).body
        )
        aws["answer"] = {k: v for k, v in answer.items() if k not in {"request_id", "poll"}}
    # the local gateway
    before = len(sqs.sent)
    response = await gateway.post(
        PATHS[route].format(sandbox_id=sandbox_id),
        headers={"Authorization": f"Bearer {token}", **headers},
        content=body.encode(),
    )
    local: dict[str, Any] = {"refused": response.status_code}
    if response.status_code == 202:
        sent = sqs.sent[before]
        message = json.loads(sent["MessageBody"])
        local = {
            "message": _comparable(message),
            "group": sent["MessageGroupId"],
            "dedup_is_request_id": sent["MessageDeduplicationId"] == message["request_id"],
            "attributes": {
                k: (v["DataType"], v["StringValue"])
                for k, v in sent["MessageAttributes"].items()
                if k != "request_id"
            },
            "answer": {k: v for k, v in response.json().items() if k not in {"request_id", "poll"}},
        }
    else:
        assert response.json()["error"]["code"] in {"INVALID_REQUEST", "PAYLOAD_TOO_LARGE"}
        assert len(sqs.sent) == before
    return aws, local


HEADER_CASES = [
    {"X-Instruqt-Sandbox-ID": "inst-123"},
    {"x-instruqt-sandbox-id": "inst-123"},
    {"X-Track-ID": "legacy-1"},
    {"X-Instruqt-Sandbox-ID": "inst-1", "X-Track-ID": "legacy-1"},
    {"X-Instruqt-Sandbox-ID": "inst-1", "X-Track-ID": "not valid at all"},
    {"X-Instruqt-Sandbox-ID": "", "X-Track-ID": "legacy-2"},
    {
        "X-Instruqt-Sandbox-ID": "inst-9",
        "X-Instruqt-Track-ID": "aws-lab:v2",
        "X-Sandbox-Name-Prefix": "lab-a.",
        "Idempotency-Key": "k@1",
    },
    {"X-Instruqt-Sandbox-ID": "inst-9", "X-Instruqt-Track-ID": "", "Idempotency-Key": ""},
    {"X-Instruqt-Sandbox-ID": "a" * 128, "X-Sandbox-Name-Prefix": "p" * 64},
    # refused by both
    {},
    {"X-Instruqt-Sandbox-ID": "a" * 129},
    {"X-Instruqt-Sandbox-ID": "has space"},
    {"X-Instruqt-Sandbox-ID": "bad/char", "X-Track-ID": "fine"},
    {"X-Track-ID": "ok", "X-Instruqt-Track-ID": "t" * 129},
    {"X-Track-ID": "ok", "X-Sandbox-Name-Prefix": "p" * 65},
    {"X-Track-ID": "ok", "Idempotency-Key": "key with space"},
    {"X-Track-ID": "ok, ok"},
    {"X-Track-ID": '"}'},
    {"X-Track-ID": "a\\b"},
    {"X-Track-ID": "x", "X-Instruqt-Track-ID": '", "track_id": "evil'},
    {"X-Track-ID": "&MessageGroupId=evil"},
    {"X-Track-ID": "$context.requestId"},
]


@pytest.mark.parametrize("headers", HEADER_CASES)
@pytest.mark.parametrize("route", ["allocate", "release", "extend"])
async def test_track_routes_agree_on_every_header_case(
    gateway: httpx.AsyncClient,
    sqs: RecordingSQS,
    routes: dict[str, dict[str, Any]],
    route: str,
    headers: dict[str, str],
) -> None:
    aws, local = await both(gateway, sqs, routes, route, headers=headers)
    assert aws == local


@pytest.mark.parametrize(
    "body",
    [
        *("", "{}", " { } ", "\n", "x", "[]", "null", '{"a": 1}', " " * 20_000),
        # the security review's 500 (RecursionError), and blanks as Java's trim() sees them
        *("[" * 16_000, "\x00", "\t{\x0b}\x0c"),
    ],
)
@pytest.mark.parametrize("route", sorted(PATHS))
async def test_every_post_route_agrees_on_bodies(
    gateway: httpx.AsyncClient,
    sqs: RecordingSQS,
    routes: dict[str, dict[str, Any]],
    route: str,
    body: str,
) -> None:
    aws, local = await both(gateway, sqs, routes, route, headers={"X-Track-ID": "t1"}, body=body)
    assert aws == local


@pytest.mark.parametrize("sandbox_id", ["2012220", "sbx:1@a.b-c", "x" * 128, "x" * 129, "a b", "é"])
@pytest.mark.parametrize("route", ["release", "extend"])
async def test_release_and_extend_agree_on_sandbox_ids(
    gateway: httpx.AsyncClient,
    sqs: RecordingSQS,
    routes: dict[str, dict[str, Any]],
    sandbox_id: str,
    route: str,
) -> None:
    aws, local = await both(
        gateway, sqs, routes, route, headers={"X-Track-ID": "t1"}, sandbox_id=sandbox_id
    )
    assert aws == local


#: v2 seconds headers: every edge of both ranges and the malformed shapes.
SECONDS_VALUES = ["", "0", "1", "9", "10", "59", "60", "61", "99", "100", "899", "900", "901",
                  "999", "1000", "9999", "10000", "79999", "85999", "86000", "86399", "86400",
                  "86401", "86500", "90000", "100000", "-1", "+5", "05", "060", "1.5", "1e3",
                  " 5", "5 ", "abc", "5, 5", "9" * 40, '5"', "5}"]  # fmt: skip


@pytest.mark.parametrize("value", SECONDS_VALUES)
@pytest.mark.parametrize(
    ("route", "header"),
    [
        ("allocate", "X-Wait-For-Sandbox-S"),
        ("extend", "X-Extend-By-S"),
        # a route ignores the other's header, whatever its value
        ("allocate", "X-Extend-By-S"),
        ("extend", "X-Wait-For-Sandbox-S"),
        ("release", "X-Extend-By-S"),
    ],
)
async def test_the_seconds_headers_agree_on_every_value(
    gateway: httpx.AsyncClient,
    sqs: RecordingSQS,
    routes: dict[str, dict[str, Any]],
    route: str,
    header: str,
    value: str,
) -> None:
    aws, local = await both(
        gateway, sqs, routes, route, headers={"X-Track-ID": "t1", header: value}
    )
    assert aws == local


REASON_BODIES = [
    '{"reason": "MFA lost (ticket 42)"}',
    '{"reason":"x"}',
    ' {  "reason" :  "a/b; c@d, e+f-g.h:i" } ',
    '{"reason": "' + "r" * 500 + '"}',
    # refused by both
    '{"reason": ""}',
    '{"reason": "' + "r" * 501 + '"}',
    '{"reason": "say \\"hi\\""}',
    '{"reason": "a\\\\b"}',
    '{"reason": "\\u00e9"}',
    '{"reason": "x", "other": 1}',
    '{"why": "x"}',
    '{"reason": 5}',
    '{"reason": "tab\\there"}',
    '{"reason": "$context.requestId"}',
    '{"reason": "&MessageGroupId=evil"}',
]


@pytest.mark.parametrize("body", REASON_BODIES)
@pytest.mark.parametrize(
    "route", ["admin-sandbox-retry", "admin-sandbox-quarantine", "admin-sandbox-release"]
)
async def test_operator_actions_agree_on_reasons(
    gateway: httpx.AsyncClient,
    sqs: RecordingSQS,
    routes: dict[str, dict[str, Any]],
    route: str,
    body: str,
) -> None:
    aws, local = await both(gateway, sqs, routes, route, headers={}, body=body)
    assert aws == local


@pytest.mark.parametrize("sandbox_id", ["2012220", "sbx:1@a.b-c", "x" * 128, "x" * 129, "a b", "é"])
async def test_operator_actions_agree_on_sandbox_ids(
    gateway: httpx.AsyncClient,
    sqs: RecordingSQS,
    routes: dict[str, dict[str, Any]],
    sandbox_id: str,
) -> None:
    aws, local = await both(
        gateway, sqs, routes, "admin-sandbox-quarantine", headers={}, sandbox_id=sandbox_id
    )
    assert aws == local
