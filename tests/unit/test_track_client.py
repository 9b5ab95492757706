"""The track client: enqueue, poll with capped backoff, honour Retry-After, typed errors (respx).

(Over 400 lines: the SDK and its CLI share fixtures and the fake gateway they are tested on.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from click.testing import Result
from typer.testing import CliRunner

from producers.cli import track_app
from producers.track_client import (
    DeadLetteredReplyError,
    GatewayError,
    GatewayUnreachableError,
    InvalidRequestReplyError,
    LeaseLimitReachedReplyError,
    NoSandboxesAvailableReplyError,
    NotSandboxOwnerReplyError,
    QuotaExceededReplyError,
    RequestFailedError,
    RequestTimeoutError,
    SandboxNotFoundReplyError,
    Sleep,
    SyncTrackClient,
    TrackClient,
    TrackClientError,
    UpstreamUnavailableReplyError,
    submit_flow,
    wait_flow,
)
from schemas.errors import ErrorCode
from schemas.replies import Reply, ReplyError, ReplyStatus

BASE = "http://gw.test"
RID = "req_01TESTREQUEST"
RESULT = {
    "sandbox_id": "sbx-1",
    "name": "lab-aws-1",
    "external_id": "identity/accounts/0000",
    "allocated_at": 1732345678.123,
    "expires_at": 1732361878.123,
    "idempotent": False,
}


def accepted(action: str = "allocate") -> httpx.Response:
    poll = f"/v1/requests/{RID}"
    body = {"request_id": RID, "action": action, "status": "pending", "poll": poll}
    return httpx.Response(202, json=body, headers={"Location": poll, "Retry-After": "1"})


def reply(status: str, *, result: Any = None, error: Any = None, action: str = "allocate") -> Any:
    body = {
        "request_id": RID,
        "action": action if status != "pending" else "unknown",
        "status": status,
        "result": result,
        "error": error,
        "completed_at": None if status == "pending" else 1732345678.5,
    }
    headers = {"Retry-After": "1"} if status == "pending" else {}
    return httpx.Response(200, json=body, headers=headers)


def problem(status: int, code: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": "m"}}, headers=headers)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


# the protocol, on a fake clock -------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(flow: Any, clock: Clock, responses: list[httpx.Response | Exception]) -> tuple[Any, list]:
    """Drive a flow: sleeps advance the clock; requests get the next canned response."""
    sleeps: list[float] = []
    try:
        step = next(flow)
        while True:
            if isinstance(step, Sleep):
                sleeps.append(round(step.seconds, 3))
                clock.now += step.seconds
                step = next(flow)
            else:
                canned = responses.pop(0)
                step = flow.throw(canned) if isinstance(canned, Exception) else flow.send(canned)
    except StopIteration as stop:
        return stop.value, sleeps


def _get(_: float) -> httpx.Request:
    return httpx.Request("GET", f"{BASE}/v1/requests/{RID}")


def test_polls_first_after_100ms_then_doubling_up_to_1s() -> None:
    clock = Clock()
    responses = [reply("pending")] * 7 + [reply("succeeded", result=RESULT)]
    result, sleeps = run(wait_flow(_get, RID, timeout=30, clock=clock), clock, responses)
    assert result.status is ReplyStatus.SUCCEEDED
    assert sleeps == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]


def test_polling_gives_up_at_the_timeout_with_one_last_look() -> None:
    clock = Clock()
    flow = wait_flow(_get, RID, timeout=2.0, clock=clock)
    with pytest.raises(RequestTimeoutError) as caught:
        run(flow, clock, [reply("pending")] * 10)
    assert caught.value.request_id == RID
    assert clock.now == pytest.approx(2.0)  # 0.1 + 0.2 + 0.4 + 0.8 + 0.5 (what was left)


def test_a_429_while_polling_is_waited_out_for_its_retry_after() -> None:
    clock = Clock()
    responses = [
        reply("pending"),
        problem(429, "RATE_LIMITED", **{"Retry-After": "3"}),
        problem(503, "QUEUE_UNAVAILABLE"),  # no Retry-After: the backoff applies
        reply("failed", error={"code": "NOT_SANDBOX_OWNER", "message": "m"}),
    ]
    result, sleeps = run(wait_flow(_get, RID, timeout=30, clock=clock), clock, responses)
    assert result.status is ReplyStatus.FAILED
    assert sleeps == [0.1, 0.2, 3.0, 0.8]


def test_transport_errors_while_polling_are_retried_until_the_deadline() -> None:
    clock = Clock()
    responses: list[Any] = [httpx.ConnectError("refused"), reply("succeeded", result=RESULT)]
    result, _ = run(wait_flow(_get, RID, timeout=30, clock=clock), clock, responses)
    assert result.result == RESULT
    clock = Clock()
    with pytest.raises(GatewayUnreachableError):
        run(wait_flow(_get, RID, timeout=1, clock=clock), clock, [httpx.ReadTimeout("x")] * 10)


def test_submit_waits_out_429_and_503_then_gives_the_error_when_time_is_up() -> None:
    clock = Clock()
    post = lambda _: httpx.Request("POST", f"{BASE}/v1/allocate")  # noqa: E731
    responses = [problem(429, "RATE_LIMITED", **{"Retry-After": "2"}), accepted()]
    result, sleeps = run(submit_flow(post, timeout=30, clock=clock), clock, responses)
    assert result.request_id == RID and sleeps == [2.0]
    clock = Clock()
    with pytest.raises(GatewayError) as caught:
        run(
            submit_flow(post, timeout=5, clock=clock),
            clock,
            [problem(429, "RATE_LIMITED", **{"Retry-After": "10"})],
        )
    assert (caught.value.status_code, caught.value.code, caught.value.retry_after) == (
        429,
        "RATE_LIMITED",
        10,
    )


# the async client over respx ---------------------------------------------------------------


async def test_allocate_enqueues_polls_and_returns_the_sandbox(router: respx.MockRouter) -> None:
    post = router.post("/v1/allocate").mock(return_value=accepted())
    get = router.get(f"/v1/requests/{RID}").mock(
        side_effect=[reply("pending"), reply("succeeded", result=RESULT)]
    )
    async with TrackClient(BASE, "tok") as client:
        result = await client.allocate("inst-1", track_name="aws-101", name_prefix="lab-aws")
    assert result.sandbox_id == "sbx-1" and result.expires_at == RESULT["expires_at"]
    sent = post.calls.last.request
    assert sent.headers["authorization"] == "Bearer tok"
    assert sent.headers["x-instruqt-sandbox-id"] == "inst-1"
    assert sent.headers["x-instruqt-track-id"] == "aws-101"
    assert sent.headers["x-sandbox-name-prefix"] == "lab-aws"
    assert "idempotency-key" not in sent.headers
    assert sent.content == b""
    assert get.call_count == 2
    assert get.calls.last.request.headers["x-instruqt-sandbox-id"] == "inst-1"


async def test_release_returns_the_release_result(router: respx.MockRouter) -> None:
    router.post("/v1/sandboxes/sbx-1/mark-for-deletion").mock(return_value=accepted("release"))
    release = {"sandbox_id": "sbx-1", "status": "pending_deletion", "idempotent": True}
    router.get(f"/v1/requests/{RID}").mock(
        return_value=reply("succeeded", result=release, action="release")
    )
    async with TrackClient(BASE, "tok") as client:
        result = await client.release("inst-1", "sbx-1")
    assert (result.sandbox_id, result.status, result.idempotent) == (
        "sbx-1",
        "pending_deletion",
        True,
    )


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        ("NO_SANDBOXES_AVAILABLE", NoSandboxesAvailableReplyError),
        ("QUOTA_EXCEEDED", QuotaExceededReplyError),
        ("LEASE_LIMIT_REACHED", LeaseLimitReachedReplyError),
        ("NOT_SANDBOX_OWNER", NotSandboxOwnerReplyError),
        ("SANDBOX_NOT_FOUND", SandboxNotFoundReplyError),
        ("INVALID_REQUEST", InvalidRequestReplyError),
        ("DEAD_LETTERED", DeadLetteredReplyError),
        ("UPSTREAM_UNAVAILABLE", UpstreamUnavailableReplyError),
    ],
)
async def test_a_failed_reply_raises_the_error_of_its_code(
    router: respx.MockRouter, code: str, error_type: type[RequestFailedError]
) -> None:
    retry = 30 if code in ("NO_SANDBOXES_AVAILABLE", "QUOTA_EXCEEDED") else None
    router.post("/v1/allocate").mock(return_value=accepted())
    router.get(f"/v1/requests/{RID}").mock(
        return_value=reply("failed", error={"code": code, "message": "why", "retry_after": retry})
    )
    async with TrackClient(BASE, "tok") as client:
        with pytest.raises(error_type) as caught:
            await client.allocate("inst-1")
    assert caught.value.error_code == code and caught.value.code == code
    assert caught.value.retry_after == retry
    assert caught.value.request_id == RID
    assert caught.value.reply.status is ReplyStatus.FAILED
    assert isinstance(caught.value, RequestFailedError)


def test_an_unknown_failure_code_is_still_a_request_failed_error() -> None:
    failed = Reply(
        request_id=RID,
        action="sync",
        status=ReplyStatus.FAILED,
        error=ReplyError(code=ErrorCode.QUEUE_UNAVAILABLE, message="m"),
    )
    error = RequestFailedError.from_reply(failed)
    assert type(error) is RequestFailedError and error.error_code == "QUEUE_UNAVAILABLE"


@pytest.mark.parametrize(
    ("response", "status", "code"),
    [
        (problem(401, "UNAUTHORIZED", **{"WWW-Authenticate": "Bearer"}), 401, "UNAUTHORIZED"),
        (problem(400, "INVALID_REQUEST"), 400, "INVALID_REQUEST"),
        (problem(403, "FORBIDDEN"), 403, "FORBIDDEN"),
        (httpx.Response(502, text="<html>bad gateway</html>"), 502, "HTTP_502"),
    ],
)
async def test_an_http_error_raises_gateway_error_with_its_code(
    router: respx.MockRouter, response: httpx.Response, status: int, code: str
) -> None:
    router.post("/v1/allocate").mock(return_value=response)
    async with TrackClient(BASE, "tok") as client:
        with pytest.raises(GatewayError) as caught:
            await client.allocate("inst-1")
    assert (caught.value.status_code, caught.value.code) == (status, code)


async def test_another_tracks_reply_is_a_404_gateway_error(router: respx.MockRouter) -> None:
    router.get(f"/v1/requests/{RID}").mock(return_value=problem(404, "NOT_FOUND"))
    async with TrackClient(BASE, "tok") as client:
        with pytest.raises(GatewayError) as caught:
            await client.wait(RID, track_id="other", timeout=5)
    assert caught.value.code == "NOT_FOUND"


async def test_no_reply_within_the_timeout_is_a_request_timeout(router: respx.MockRouter) -> None:
    router.post("/v1/allocate").mock(return_value=accepted())
    router.get(f"/v1/requests/{RID}").mock(return_value=reply("pending"))
    async with TrackClient(BASE, "tok") as client:
        with pytest.raises(RequestTimeoutError) as caught:
            await client.allocate("inst-1", timeout=0.35)
    assert caught.value.request_id == RID


async def test_an_unreachable_gateway_is_gateway_unreachable(router: respx.MockRouter) -> None:
    router.post("/v1/allocate").mock(side_effect=httpx.ConnectError("refused"))
    async with TrackClient(BASE, "tok") as client:
        with pytest.raises(GatewayUnreachableError):
            await client.allocate("inst-1")
    assert issubclass(GatewayUnreachableError, TrackClientError)


async def test_a_garbled_answer_is_a_one_line_client_error(router: respx.MockRouter) -> None:
    router.post("/v1/allocate").mock(return_value=httpx.Response(202, text="ok"))
    async with TrackClient(BASE, "tok") as client:
        with pytest.raises(TrackClientError, match="unexpected 202 body"):
            await client.allocate("inst-1")


async def test_status_reads_once_without_raising_on_pending_or_failed(
    router: respx.MockRouter,
) -> None:
    get = router.get(f"/v1/requests/{RID}").mock(
        side_effect=[
            reply("pending"),
            reply("failed", error={"code": "NOT_SANDBOX_OWNER", "message": "m"}),
        ]
    )
    async with TrackClient(BASE, "admin-tok") as client:
        assert (await client.status(RID)).status is ReplyStatus.PENDING
        assert (await client.status(RID, track_id="t")).status is ReplyStatus.FAILED
    assert "x-instruqt-sandbox-id" not in get.calls[0].request.headers
    assert get.calls[1].request.headers["x-instruqt-sandbox-id"] == "t"


async def test_the_transport_is_pluggable() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return accepted() if request.method == "POST" else reply("succeeded", result=RESULT)

    async with TrackClient(BASE, "tok", transport=httpx.MockTransport(handler)) as client:
        accepted_body = await client.submit_allocate("inst-1", idempotency_key="k-1")
        assert (await client.wait(accepted_body.request_id, track_id="inst-1")).result == RESULT
    assert seen == ["POST /v1/allocate", f"GET /v1/requests/{RID}"]


# the sync client ---------------------------------------------------------------------------


def test_sync_client_allocates_and_releases(router: respx.MockRouter) -> None:
    router.post("/v1/allocate").mock(return_value=accepted())
    router.post("/v1/sandboxes/sbx-1/mark-for-deletion").mock(return_value=accepted("release"))
    release = {"sandbox_id": "sbx-1", "status": "pending_deletion", "idempotent": False}
    router.get(f"/v1/requests/{RID}").mock(
        side_effect=[
            reply("pending"),
            reply("succeeded", result=RESULT),
            reply("succeeded", result=release, action="release"),
        ]
    )
    with TrackClient.sync(BASE, "tok") as client:
        assert isinstance(client, SyncTrackClient)
        assert client.allocate("inst-1").sandbox_id == "sbx-1"
        assert client.release("inst-1", "sbx-1").status == "pending_deletion"


def test_sync_client_raises_the_same_typed_errors(router: respx.MockRouter) -> None:
    router.post("/v1/allocate").mock(return_value=accepted())
    error = {"code": "NO_SANDBOXES_AVAILABLE", "message": "none", "retry_after": 30}
    router.get(f"/v1/requests/{RID}").mock(return_value=reply("failed", error=error))
    with (
        SyncTrackClient(BASE, "tok") as client,
        pytest.raises(NoSandboxesAvailableReplyError) as caught,
    ):
        client.allocate("inst-1")
    assert caught.value.retry_after == 30
    assert json.loads(caught.value.reply.model_dump_json())["error"]["code"] == error["code"]


# the CLI -----------------------------------------------------------------------------------

runner = CliRunner()
ENV = {"BROKER_GATEWAY_URL": BASE, "BROKER_TRACK_TOKEN": "tok"}


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(track_app, list(args), env=ENV if env is None else env)


def test_cli_allocate_prints_the_reply_and_exits_0(router: respx.MockRouter) -> None:
    post = router.post("/v1/allocate").mock(return_value=accepted())
    router.get(f"/v1/requests/{RID}").mock(return_value=reply("succeeded", result=RESULT))
    result = cli("allocate", "--track-id", "inst-1", "--track-name", "aws-101")
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["status"] == "succeeded" and printed["result"]["sandbox_id"] == "sbx-1"
    assert post.calls.last.request.headers["x-instruqt-track-id"] == "aws-101"
    assert result.stderr == ""


def test_cli_release_of_a_sandbox_not_owned_prints_the_reply_and_exits_1(
    router: respx.MockRouter,
) -> None:
    router.post("/v1/sandboxes/sbx-9/mark-for-deletion").mock(return_value=accepted("release"))
    error = {"code": "NOT_SANDBOX_OWNER", "message": "not yours"}
    router.get(f"/v1/requests/{RID}").mock(
        return_value=reply("failed", error=error, action="release")
    )
    result = cli("release", "--track-id", "inst-1", "--sandbox-id", "sbx-9")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "NOT_SANDBOX_OWNER"
    assert result.stderr.strip() == "error: NOT_SANDBOX_OWNER: not yours"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("allocate", "--track-id", "a b"), ENV),
        (("allocate", "--track-id", "t", "--name-prefix", "p" * 65), ENV),
        (("release", "--track-id", "t", "--sandbox-id", "x/y"), ENV),
        (("status", "req.1"), ENV),
        (("allocate",), ENV),  # --track-id is required
        (("allocate", "--track-id", "t"), {"BROKER_GATEWAY_URL": BASE, "BROKER_TRACK_TOKEN": ""}),
    ],
)
def test_cli_usage_errors_exit_2_without_calling_the_gateway(
    router: respx.MockRouter, args: tuple[str, ...], env: dict[str, str]
) -> None:
    result = cli(*args, env=env)
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr
    assert router.calls.call_count == 0


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (problem(401, "UNAUTHORIZED"), 2),
        (problem(400, "INVALID_REQUEST"), 2),
        (problem(503, "QUEUE_UNAVAILABLE"), 3),
        (problem(429, "RATE_LIMITED", **{"Retry-After": "60"}), 3),
        (httpx.ConnectError("refused"), 3),
    ],
)
def test_cli_gateway_errors_exit_2_when_refused_and_3_when_unavailable(
    router: respx.MockRouter, response: Any, code: int
) -> None:
    route = router.post("/v1/allocate")
    if isinstance(response, Exception):
        route.mock(side_effect=response)
    else:
        route.mock(return_value=response)
    result = cli("allocate", "--track-id", "t", "--timeout", "0.2")
    assert result.exit_code == code
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_cli_timeout_exits_3_naming_the_request_to_read_later(router: respx.MockRouter) -> None:
    router.post("/v1/allocate").mock(return_value=accepted())
    router.get(f"/v1/requests/{RID}").mock(return_value=reply("pending"))
    result = cli("allocate", "--track-id", "t", "--timeout", "0.3")
    assert result.exit_code == 3
    assert f"track status {RID}" in result.stderr


def test_cli_status_prints_the_reply_as_it_stands(router: respx.MockRouter) -> None:
    dead = {"code": "DEAD_LETTERED", "message": "replay me"}
    get = router.get(f"/v1/requests/{RID}").mock(
        side_effect=[reply("pending"), reply("failed", error=dead), httpx.Response(200, text="?")]
    )
    pending = cli("status", RID, "--track-id", "t")
    assert pending.exit_code == 0 and json.loads(pending.stdout)["status"] == "pending"
    assert get.calls.last.request.headers["x-instruqt-sandbox-id"] == "t"
    failed = cli("status", RID)  # e.g. with the admin token: no track header
    assert failed.exit_code == 1 and json.loads(failed.stdout)["error"] == {
        **dead,
        "retry_after": None,
    }
    assert "x-instruqt-sandbox-id" not in get.calls.last.request.headers
    garbled = cli("status", RID)
    assert garbled.exit_code == 3 and garbled.stderr == "error: unexpected reply from the gateway\n"
