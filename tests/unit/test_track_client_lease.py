"""Track client v2: extend (SDK and `track extend`) and waiting allocations (respx)."""

from __future__ import annotations

import json

import pytest
import respx

from producers.track_client import LeaseLimitReachedReplyError, SyncTrackClient, TrackClient
from tests.unit.test_track_client import BASE, RESULT, RID, accepted, cli, reply, router

__all__ = ["router"]  # the fixture, shared with the v1 tests

EXTENDED = {"sandbox_id": "sbx-1", "expires_at": 1732365478.123, "idempotent": False}


async def test_extend_sends_the_duration_and_returns_the_new_expiry(
    router: respx.MockRouter,
) -> None:
    post = router.post("/v1/sandboxes/sbx-1/extend").mock(return_value=accepted("extend"))
    router.get(f"/v1/requests/{RID}").mock(
        return_value=reply("succeeded", result=EXTENDED, action="extend")
    )
    async with TrackClient(BASE, "tok") as client:
        result = await client.extend("inst-1", "sbx-1", extend_by_s=1800)
    assert (result.sandbox_id, result.expires_at, result.idempotent) == (
        "sbx-1",
        EXTENDED["expires_at"],
        False,
    )
    sent = post.calls.last.request
    assert sent.headers["x-extend-by-s"] == "1800"
    assert sent.headers["x-instruqt-sandbox-id"] == "inst-1"


def test_extend_without_a_duration_sends_no_header_and_a_limit_raises(
    router: respx.MockRouter,
) -> None:
    post = router.post("/v1/sandboxes/sbx-1/extend").mock(return_value=accepted("extend"))
    error = {"code": "LEASE_LIMIT_REACHED", "message": "at max_lease_s"}
    router.get(f"/v1/requests/{RID}").mock(
        return_value=reply("failed", error=error, action="extend")
    )
    with SyncTrackClient(BASE, "tok") as client, pytest.raises(LeaseLimitReachedReplyError):
        client.extend("inst-1", "sbx-1")
    assert "x-extend-by-s" not in post.calls.last.request.headers


async def test_allocate_may_wait_for_a_sandbox(router: respx.MockRouter) -> None:
    post = router.post("/v1/allocate").mock(return_value=accepted())
    router.get(f"/v1/requests/{RID}").mock(return_value=reply("succeeded", result=RESULT))
    async with TrackClient(BASE, "tok") as client:
        await client.allocate("inst-1", wait_for_sandbox_s=300)
        await client.allocate("inst-1")
    first, second = (c.request for c in post.calls)
    assert first.headers["x-wait-for-sandbox-s"] == "300"
    assert "x-wait-for-sandbox-s" not in second.headers


def test_cli_extend_prints_the_reply(router: respx.MockRouter) -> None:
    post = router.post("/v1/sandboxes/sbx-1/extend").mock(return_value=accepted("extend"))
    router.get(f"/v1/requests/{RID}").mock(
        return_value=reply("succeeded", result=EXTENDED, action="extend")
    )
    result = cli("extend", "--track-id", "inst-1", "--sandbox-id", "sbx-1", "--by", "600")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["result"] == EXTENDED
    assert post.calls.last.request.headers["x-extend-by-s"] == "600"


def test_cli_allocate_wait_sends_the_header(router: respx.MockRouter) -> None:
    post = router.post("/v1/allocate").mock(return_value=accepted())
    router.get(f"/v1/requests/{RID}").mock(return_value=reply("succeeded", result=RESULT))
    result = cli("allocate", "--track-id", "inst-1", "--wait-for-sandbox", "120")
    assert result.exit_code == 0, result.stderr
    assert post.calls.last.request.headers["x-wait-for-sandbox-s"] == "120"


def test_cli_out_of_range_values_exit_2_without_calling_the_gateway(
    router: respx.MockRouter,
) -> None:
    for args in (
        ("extend", "--track-id", "t", "--sandbox-id", "s", "--by", "59"),
        ("extend", "--track-id", "t", "--sandbox-id", "s", "--by", "86401"),
        ("extend", "--track-id", "t", "--sandbox-id", "x/y"),
        ("allocate", "--track-id", "t", "--wait-for-sandbox", "901"),
        ("allocate", "--track-id", "t", "--wait-for-sandbox", "-1"),
    ):
        result = cli(*args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.output + result.stderr
    assert router.calls.call_count == 0
