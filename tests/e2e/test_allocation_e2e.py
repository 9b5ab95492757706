"""Allocation and release through the gateway, on the whole local stack (issue 4, proof 1-3)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from producers.track_client import (
    NoSandboxesAvailableReplyError,
    SandboxNotFoundReplyError,
    TrackClient,
)
from schemas.replies import ReplyStatus
from tests.e2e.conftest import RunningStack, start_stack, stop_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_allocate_repeat_release_and_reallocate(stack: RunningStack) -> None:
    async with TrackClient(stack.url, stack.info["track_token"]) as client:
        first = await client.allocate("e2e-happy", track_name="lab-x", timeout=30)
        again = await client.allocate("e2e-happy", timeout=30)
        assert again.sandbox_id == first.sandbox_id
        assert again.idempotent is True
        assert again.allocated_at == first.allocated_at
        assert first.expires_at == pytest.approx(first.allocated_at + 4 * 3600)

        released = await client.release("e2e-happy", first.sandbox_id, timeout=30)
        assert released.status == "pending_deletion"
        assert released.idempotent is False
        assert (await client.release("e2e-happy", first.sandbox_id, timeout=30)).idempotent

        after = await client.allocate("e2e-happy", timeout=30)
        assert after.sandbox_id != first.sandbox_id


async def test_owner_view_and_legacy_track_header(stack: RunningStack, http) -> None:
    headers = {"Authorization": f"Bearer {stack.info['track_token']}", "X-Track-ID": "e2e-legacy"}
    accepted = await http.post("/v1/allocate", headers=headers)
    assert accepted.status_code == 202
    request_id = accepted.json()["request_id"]
    assert accepted.headers["Location"] == f"/v1/requests/{request_id}"
    async with TrackClient(stack.url, stack.info["track_token"]) as client:
        reply = await client.wait(request_id, track_id="e2e-legacy", timeout=30)
    assert reply.status is ReplyStatus.SUCCEEDED
    sandbox_id = reply.result["sandbox_id"]

    view = await http.get(f"/v1/sandboxes/{sandbox_id}", headers=headers)
    assert view.status_code == 200
    assert view.json()["status"] == "allocated"
    stranger = stack.track_headers("e2e-stranger")
    assert (await http.get(f"/v1/sandboxes/{sandbox_id}", headers=stranger)).status_code == 404
    assert (await http.get(f"/v1/requests/{request_id}", headers=stranger)).status_code == 404


async def test_another_track_cannot_release_a_sandbox(stack: RunningStack) -> None:
    async with TrackClient(stack.url, stack.info["track_token"]) as client:
        owned = await client.allocate("e2e-owner", timeout=30)
        # the same answer as an unknown id: a stranger learns nothing of the sandbox
        with pytest.raises(SandboxNotFoundReplyError):
            await client.release("e2e-thief", owned.sandbox_id, timeout=30)
        assert (await client.allocate("e2e-owner", timeout=30)).sandbox_id == owned.sandbox_id


async def test_exhausted_pool_answers_no_sandboxes(tmp_path) -> None:
    running = start_stack(tmp_path, pool_size=2)
    try:
        async with TrackClient(running.url, running.info["track_token"]) as client:
            await client.allocate("x-1", timeout=30)
            await client.allocate("x-2", timeout=30)
            with pytest.raises(NoSandboxesAvailableReplyError) as refused:
                await client.allocate("x-3", timeout=30)
            assert refused.value.retry_after == 30
    finally:
        assert stop_stack(running) == 0


def burst_client(running: RunningStack) -> TrackClient:
    """One client for hundreds of concurrent tracks: enough connections for all of them."""
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    return TrackClient(
        running.url,
        running.info["track_token"],
        timeout=60,
        transport=httpx.AsyncHTTPTransport(limits=limits),
    )


async def _allocate_all(client: TrackClient, tracks: list[str]):
    async def one(track: str):
        accepted = await client.submit_allocate(track, timeout=60)
        return track, await client.wait(accepted.request_id, track_id=track, timeout=90)

    return await asyncio.gather(*(one(t) for t in tracks))


async def test_200_tracks_against_150_sandboxes(tmp_path) -> None:
    """Exactly 150 distinct sandboxes, 50 NO_SANDBOXES_AVAILABLE, no double allocation."""
    running = start_stack(tmp_path, pool_size=150, consumers=2)
    try:
        async with burst_client(running) as client:
            results = await _allocate_all(client, [f"burst-{i:03d}" for i in range(200)])
    finally:
        assert stop_stack(running) == 0
    won = [r for _, r in results if r.status is ReplyStatus.SUCCEEDED]
    lost = [r for _, r in results if r.status is ReplyStatus.FAILED]
    assert len(won) == 150
    assert len({r.result["sandbox_id"] for r in won}) == 150
    assert len(lost) == 50
    assert {r.error.code for r in lost} == {"NO_SANDBOXES_AVAILABLE"}


async def test_three_concurrent_allocates_per_track_give_one_sandbox(tmp_path) -> None:
    running = start_stack(tmp_path, pool_size=100, consumers=2)
    try:
        async with burst_client(running) as client:
            tracks = [f"triple-{t:02d}" for t in range(50) for _ in range(3)]
            results = await _allocate_all(client, tracks)
    finally:
        assert stop_stack(running) == 0
    per_track: dict[str, set[str]] = {}
    for track, reply in results:
        assert reply.status is ReplyStatus.SUCCEEDED, reply
        per_track.setdefault(track, set()).add(reply.result["sandbox_id"])
    assert all(len(s) == 1 for s in per_track.values())
    assert len({next(iter(s)) for s in per_track.values()}) == 50
    assert Counter(r.result["idempotent"] for _, r in results) == {False: 50, True: 100}
