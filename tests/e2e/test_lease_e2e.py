"""Extend and waiting allocations through the gateway, on the whole local stack (v2)."""

from __future__ import annotations

import httpx
import pytest

from producers.track_client import (
    NoSandboxesAvailableReplyError,
    SandboxNotFoundReplyError,
    TrackClient,
)
from schemas.replies import ReplyStatus
from tests.e2e.conftest import start_stack, stop_stack
from tests.factories import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_extend_and_waiting_allocations_through_the_gateway(tmp_path) -> None:
    running = start_stack(
        tmp_path, pool_size=2, consumers=2, env={"BROKER_WAITER_INTERVAL_S": "0.5"}
    )
    csp_admin = running.info["csp_url"].removesuffix("/api")
    try:
        async with (
            TrackClient(running.url, running.info["track_token"]) as client,
            httpx.AsyncClient(base_url=running.url, timeout=10) as http,
        ):
            first = await client.allocate("lease-1", timeout=30)
            await client.allocate("lease-2", timeout=30)  # the pool is empty now

            # extend: the owner pushes expires_at; another track may not; bad values are 400
            extended = await client.extend("lease-1", first.sandbox_id, extend_by_s=600)
            assert extended.expires_at == pytest.approx(first.expires_at + 600)
            again = await client.allocate("lease-1", timeout=30)
            assert again.expires_at == pytest.approx(extended.expires_at)
            with pytest.raises(SandboxNotFoundReplyError):  # a stranger learns nothing
                await client.extend("lease-x", first.sandbox_id)
            bad = await http.post(
                f"/v1/sandboxes/{first.sandbox_id}/extend",
                headers=running.track_headers("lease-1", **{"X-Extend-By-S": "59"}),
            )
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST"
            bad = await http.post(
                "/v1/allocate",
                headers=running.track_headers("lease-3", **{"X-Wait-For-Sandbox-S": "901"}),
            )
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST"

            # waiting: two wait long, one briefly; a synced sandbox goes to the oldest
            older = await client.submit_allocate("wait-1", wait_for_sandbox_s=120)
            younger = await client.submit_allocate("wait-2", wait_for_sandbox_s=120)
            brief = await client.submit_allocate("wait-3", wait_for_sandbox_s=2)
            with pytest.raises(NoSandboxesAvailableReplyError):
                await client.allocate("wait-3", wait_for_sandbox_s=2)  # the same: refused
            short = await client.wait(brief.request_id, track_id="wait-3", timeout=30)
            assert short.error.code == "NO_SANDBOXES_AVAILABLE"

            async def pending(request_id: str, track: str) -> bool:
                reply = await client.status(request_id, track_id=track)
                return reply.status is ReplyStatus.PENDING

            assert await pending(older.request_id, "wait-1")
            for n, (accepted, track) in enumerate([(older, "wait-1"), (younger, "wait-2")]):
                added = await http.post(f"{csp_admin}/_accounts", json={"n": 1})
                assert added.status_code == 200, added.text
                sync = await http.post(
                    "/v1/admin/sync",
                    headers={"Authorization": f"Bearer {running.info['admin_token']}"},
                )
                assert sync.status_code == 202
                reply = await client.wait(accepted.request_id, track_id=track, timeout=60)
                assert reply.status is ReplyStatus.SUCCEEDED, reply
                if n == 0:  # the younger still waits after the older was served
                    await wait_until(
                        lambda: pending(younger.request_id, "wait-2"), what="younger waiting"
                    )
    finally:
        assert stop_stack(running) == 0
