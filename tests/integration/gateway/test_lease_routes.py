"""v2 lease headers and the extend route: what they enqueue, and 400 for any bad value."""

from __future__ import annotations

import pytest

from schemas.messages import ANY_MESSAGE, AllocateMessage, ExtendMessage
from tests.integration.gateway.helpers import TRACK, GatewayEnv, track

pytestmark = pytest.mark.integration

EXTEND = "/v1/sandboxes/sbx-1/extend"


async def test_extend_enqueues_the_extend_message_in_the_tracks_group(gw: GatewayEnv) -> None:
    headers = track("inst-42", **{"X-Extend-By-S": "1800", "X-Instruqt-Track-ID": "aws-101"})
    response = await gw.client.post(EXTEND, headers=headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["action"] == "extend" and body["status"] == "pending"
    assert response.headers["location"] == f"/v1/requests/{body['request_id']}"

    (message,) = await gw.receive(gw.settings.names.requests_queue)
    assert message["Attributes"]["MessageGroupId"] == "inst-42"
    assert message["Attributes"]["MessageDeduplicationId"] == body["request_id"]
    assert message["MessageAttributes"]["type"]["StringValue"] == "extend"
    parsed = ANY_MESSAGE.validate_json(message["Body"])
    assert isinstance(parsed, ExtendMessage)
    assert parsed.model_dump(exclude={"requested_at"}) == {
        "schema_version": 1,
        "type": "extend",
        "request_id": body["request_id"],
        "track_id": "inst-42",
        "tenant": "default",
        "track_name": "aws-101",
        "idempotency_key": None,
        "sandbox_id": "sbx-1",
        "extend_by_s": 1800,
    }


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), ("60", 60),
                                                  ("86400", 86_400)])  # fmt: skip
async def test_extend_without_a_duration_leaves_it_to_the_consumer(
    gw: GatewayEnv, value: str | None, expected: int | None
) -> None:
    headers = track() if value is None else track(**{"X-Extend-By-S": value})
    assert (await gw.client.post(EXTEND, headers=headers)).status_code == 202
    (message,) = await gw.receive(gw.settings.names.requests_queue)
    assert ExtendMessage.model_validate_json(message["Body"]).extend_by_s == expected


@pytest.mark.parametrize(("value", "expected"), [(None, 0), ("", 0), ("0", 0), ("7", 7),
                                                  ("900", 900)])  # fmt: skip
async def test_allocate_carries_the_wait(gw: GatewayEnv, value: str | None, expected: int) -> None:
    headers = track() if value is None else track(**{"X-Wait-For-Sandbox-S": value})
    assert (await gw.client.post("/v1/allocate", headers=headers)).status_code == 202
    (message,) = await gw.receive(gw.settings.names.requests_queue)
    assert AllocateMessage.model_validate_json(message["Body"]).wait_for_sandbox_s == expected


BAD_WAITS = ["-1", "901", "1000", "abc", "1.5", " 5", "+5", "05", "1e3", "9" * 40, "5, 5",
             "0x10", "٣".encode()]  # fmt: skip
BAD_EXTENDS = ["0", "59", "86401", "-60", "060", "3600s", "1e4", "9" * 40, "60, 60", "abc",
               " 60", "١٢٠".encode()]  # fmt: skip


@pytest.mark.parametrize("value", BAD_WAITS)
async def test_a_bad_wait_is_400_invalid_request_and_nothing_enqueued(
    gw: GatewayEnv, value: str
) -> None:
    response = await gw.client.post(
        "/v1/allocate", headers=track(**{"X-Wait-For-Sandbox-S": value})
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert "X-Wait-For-Sandbox-S" in response.json()["error"]["message"]
    assert await gw.enqueued() == 0


@pytest.mark.parametrize("value", BAD_EXTENDS)
async def test_a_bad_extension_is_400_invalid_request_and_nothing_enqueued(
    gw: GatewayEnv, value: str
) -> None:
    response = await gw.client.post(EXTEND, headers=track(**{"X-Extend-By-S": value}))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert "X-Extend-By-S" in response.json()["error"]["message"]
    assert await gw.enqueued() == 0


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/v1/sandboxes/a%20b/extend", track(), 400),
        ("/v1/sandboxes/sbx-1/extend", {"Authorization": f"Bearer {TRACK}"}, 400),
        ("/v1/sandboxes/sbx-1/extend", {"X-Track-ID": "t"}, 401),
    ],
)
async def test_extend_checks_the_path_track_headers_and_token(
    gw: GatewayEnv, path: str, headers: dict[str, str], status: int
) -> None:
    response = await gw.client.post(path, headers=headers)
    assert response.status_code == status, response.text
    assert await gw.enqueued() == 0


async def test_a_header_that_is_not_the_routes_own_is_ignored(gw: GatewayEnv) -> None:
    """X-Extend-By-S means nothing to allocate, X-Wait-For-Sandbox-S nothing to extend."""
    allocate = await gw.client.post("/v1/allocate", headers=track(**{"X-Extend-By-S": "bad"}))
    extend = await gw.client.post(EXTEND, headers=track(**{"X-Wait-For-Sandbox-S": "bad"}))
    assert (allocate.status_code, extend.status_code) == (202, 202)
