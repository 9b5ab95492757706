"""POST routes put exactly the contract's message on the right FIFO queue, and bad input none."""

from __future__ import annotations

import pytest

from schemas.messages import ANY_MESSAGE, AllocateMessage, ReleaseMessage
from tests.integration.gateway.helpers import TRACK, GatewayEnv, admin, body_of, track

pytestmark = pytest.mark.integration


async def test_allocate_enqueues_exactly_one_message_with_the_fifo_ids_and_attributes(
    gw: GatewayEnv,
) -> None:
    headers = track(
        "inst-42",
        **{
            "X-Track-ID": "legacy-ignored",
            "X-Instruqt-Track-ID": "aws-101",
            "X-Sandbox-Name-Prefix": "lab-aws",
            "Idempotency-Key": "idem:1",
        },
    )
    response = await gw.client.post("/v1/allocate", headers=headers)
    assert response.status_code == 202
    request_id = response.json()["request_id"]
    assert response.headers["location"] == f"/v1/requests/{request_id}"
    assert response.headers["retry-after"] == "1"

    (message,) = await gw.receive(gw.settings.names.requests_queue)
    assert message["Attributes"]["MessageGroupId"] == "inst-42"
    assert message["Attributes"]["MessageDeduplicationId"] == request_id
    assert {
        k: (v["DataType"], v["StringValue"]) for k, v in message["MessageAttributes"].items()
    } == {
        "type": ("String", "allocate"),
        "schema_version": ("String", "1"),
        "request_id": ("String", request_id),
    }
    parsed = ANY_MESSAGE.validate_json(message["Body"])
    assert isinstance(parsed, AllocateMessage)
    assert parsed.model_dump(exclude={"requested_at"}) == {
        "schema_version": 1,
        "type": "allocate",
        "request_id": request_id,
        "track_id": "inst-42",
        "tenant": "default",
        "track_name": "aws-101",
        "name_prefix": "lab-aws",
        "idempotency_key": "idem:1",
        "wait_for_sandbox_s": 0,
    }
    assert body_of(message)["requested_at"].endswith("Z")
    assert await gw.depth(gw.settings.names.jobs_queue) == 0


async def test_the_legacy_track_header_becomes_the_group_id(gw: GatewayEnv) -> None:
    headers = {"Authorization": f"Bearer {TRACK}", "X-Track-ID": "legacy-7"}
    response = await gw.client.post("/v1/allocate", headers=headers, json={})
    assert response.status_code == 202
    (message,) = await gw.receive(gw.settings.names.requests_queue)
    assert message["Attributes"]["MessageGroupId"] == "legacy-7"
    assert body_of(message)["track_id"] == "legacy-7"


async def test_each_call_is_its_own_request_even_for_the_same_track(gw: GatewayEnv) -> None:
    first = await gw.client.post("/v1/allocate", headers=track("t"))
    second = await gw.client.post("/v1/allocate", headers=track("t"))
    assert first.json()["request_id"] != second.json()["request_id"]
    messages = await gw.receive(gw.settings.names.requests_queue)
    assert [m["Attributes"]["MessageDeduplicationId"] for m in messages] == [
        first.json()["request_id"],
        second.json()["request_id"],
    ]


async def test_mark_for_deletion_enqueues_a_release_for_the_path_sandbox(gw: GatewayEnv) -> None:
    response = await gw.client.post(
        "/v1/sandboxes/sbx-00042/mark-for-deletion",
        headers=track("inst-1", **{"X-Instruqt-Track-ID": "aws-101"}),
    )
    assert response.status_code == 202
    assert response.json()["action"] == "release"
    (message,) = await gw.receive(gw.settings.names.requests_queue)
    assert message["Attributes"]["MessageGroupId"] == "inst-1"
    assert message["MessageAttributes"]["type"]["StringValue"] == "release"
    parsed = ANY_MESSAGE.validate_json(message["Body"])
    assert isinstance(parsed, ReleaseMessage)
    assert (parsed.track_id, parsed.sandbox_id, parsed.track_name) == (
        "inst-1",
        "sbx-00042",
        "aws-101",
    )
    assert parsed.request_id == response.json()["request_id"]


@pytest.mark.parametrize(
    ("slug", "job"),
    [
        ("sync", "sync"),
        ("cleanup", "cleanup"),
        ("expire", "expire"),
        ("delete-stale", "delete_stale"),
    ],
)
async def test_admin_jobs_go_to_the_jobs_queue_grouped_by_job_type(
    gw: GatewayEnv, slug: str, job: str
) -> None:
    response = await gw.client.post(f"/v1/admin/{slug}", headers=admin())
    assert response.status_code == 202
    body = response.json()
    assert body["action"] == job
    (message,) = await gw.receive(gw.settings.names.jobs_queue)
    assert message["Attributes"]["MessageGroupId"] == job
    assert message["Attributes"]["MessageDeduplicationId"] == body["request_id"]
    assert message["MessageAttributes"]["type"]["StringValue"] == job
    parsed = ANY_MESSAGE.validate_json(message["Body"])
    assert (parsed.type, parsed.request_id) == (job, body["request_id"])
    assert body_of(message)["requested_by"] == "admin"
    assert await gw.depth(gw.settings.names.requests_queue) == 0


AUTH = f"Bearer {TRACK}"
BAD = "INVALID_REQUEST"
BIG = "PAYLOAD_TOO_LARGE"
RELEASE = "/v1/sandboxes/sbx-1/mark-for-deletion"


def _opt(name: str, value: str) -> dict[str, str]:
    return track(**{name: value})


@pytest.mark.parametrize(
    ("method", "path", "headers", "content", "status", "code"),
    [
        # track id
        ("POST", "/v1/allocate", {"Authorization": AUTH}, b"", 400, BAD),
        ("POST", "/v1/allocate", track(""), b"", 400, BAD),
        ("POST", "/v1/allocate", track("a" * 129), b"", 400, BAD),
        ("POST", "/v1/allocate", track("a b"), b"", 400, BAD),
        ("POST", "/v1/allocate", track("x/y"), b"", 400, BAD),
        ("POST", "/v1/allocate", _opt("X-Track-ID", "ok") | track("bad!"), b"", 400, BAD),
        ("POST", "/v1/allocate", {"Authorization": AUTH, "X-Track-ID": "t#1"}, b"", 400, BAD),
        # optional headers
        ("POST", "/v1/allocate", _opt("X-Instruqt-Track-ID", "a b"), b"", 400, BAD),
        ("POST", "/v1/allocate", _opt("X-Sandbox-Name-Prefix", "p" * 65), b"", 400, BAD),
        ("POST", "/v1/allocate", _opt("X-Sandbox-Name-Prefix", "lab*"), b"", 400, BAD),
        ("POST", "/v1/allocate", _opt("Idempotency-Key", "k" * 129), b"", 400, BAD),
        ("POST", "/v1/allocate", _opt("Idempotency-Key", "k;k"), b"", 400, BAD),
        # bodies
        ("POST", "/v1/allocate", track(), b'{"a": 1}', 400, BAD),
        ("POST", "/v1/allocate", track(), b"[]", 400, BAD),
        ("POST", "/v1/allocate", track(), b"garbage", 400, BAD),
        ("POST", "/v1/allocate", track(), b" " * 16_385, 413, BIG),
        # release: path id, headers, body
        ("POST", "/v1/sandboxes/a%20b/mark-for-deletion", track(), b"", 400, BAD),
        ("POST", f"/v1/sandboxes/{'s' * 129}/mark-for-deletion", track(), b"", 400, BAD),
        ("POST", RELEASE, {"Authorization": AUTH}, b"", 400, BAD),
        ("POST", RELEASE, _opt("X-Sandbox-Name-Prefix", "p" * 65), b"", 400, BAD),
        ("POST", RELEASE, track(), b"{}x", 400, BAD),
        ("POST", RELEASE, track(), b"x" * 20_000, 413, BIG),
        # admin jobs
        ("POST", "/v1/admin/sync", admin(), b'{"force": true}', 400, BAD),
        ("POST", "/v1/admin/cleanup", admin(), b" " * 16_385, 413, BIG),
        ("POST", "/v1/admin/rebuild", admin(), b"", 404, "NOT_FOUND"),
        # auth
        ("POST", "/v1/allocate", {"X-Track-ID": "t"}, b"", 401, "UNAUTHORIZED"),
        ("POST", "/v1/allocate", {"Authorization": "Bearer no", "X-Track-ID": "t"}, b"", 401,
         "UNAUTHORIZED"),
        ("POST", "/v1/allocate", admin(**{"X-Track-ID": "t"}), b"", 403, "FORBIDDEN"),
        ("POST", "/v1/admin/sync", {}, b"", 401, "UNAUTHORIZED"),
        ("POST", "/v1/admin/sync", {"Authorization": "Bearer no"}, b"", 401, "UNAUTHORIZED"),
        ("POST", "/v1/admin/expire", track(), b"", 403, "FORBIDDEN"),
        ("POST", RELEASE, {"X-Track-ID": "t"}, b"", 401, "UNAUTHORIZED"),
    ],
)  # fmt: skip
async def test_every_bad_input_is_refused_with_its_code_and_nothing_enqueued(
    gw: GatewayEnv,
    method: str,
    path: str,
    headers: dict[str, str],
    content: bytes,
    status: int,
    code: str,
) -> None:
    response = await gw.client.request(method, path, headers=headers, content=content)
    assert response.status_code == status, response.text
    assert response.json() == {
        "error": {"code": code, "message": response.json()["error"]["message"]}
    }
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert await gw.enqueued() == 0


async def test_a_missing_queue_is_503_not_500(gw: GatewayEnv, sqs) -> None:
    url = await gw.url(gw.settings.names.requests_queue)
    assert (await gw.client.post("/v1/allocate", headers=track())).status_code == 202
    await sqs.delete_queue(QueueUrl=url)
    try:
        response = await gw.client.post("/v1/allocate", headers=track())
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "QUEUE_UNAVAILABLE"
        assert gw.settings.names.requests_queue in response.json()["error"]["message"]
    finally:  # the fixture deletes what it made: put the queue back for it
        await sqs.create_queue(
            QueueName=gw.settings.names.requests_queue,
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
        )
