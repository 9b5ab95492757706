"""Lease events, history and operator verbs on the whole local stack (`up`), through the
gateway, with the events reader POSTing to a local webhook sink (issue 14, items 3-4)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from producers.track_client import TrackClient
from tests.e2e.conftest import RunningStack, start_stack, stop_stack
from tests.events_sink import EventsSink
from tests.factories import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: The outage the acceptance criterion names.
WEBHOOK_DOWN_S = 30.0


@pytest.fixture(scope="module")
async def sink() -> AsyncIterator[EventsSink]:
    running = EventsSink()
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="module")
async def events_stack(tmp_path_factory, sink: EventsSink) -> AsyncIterator[RunningStack]:
    running = await asyncio.to_thread(
        start_stack,
        tmp_path_factory.mktemp("events"),
        pool_size=240,
        env={"BROKER_EVENTS_WEBHOOK_URL": sink.url},
    )
    try:
        yield running
    finally:
        await asyncio.to_thread(stop_stack, running)


@pytest.fixture
async def http(events_stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=events_stack.url, timeout=10) as client:
        yield client


async def _allocate_all(stack: RunningStack, tracks: list[str]) -> dict[str, str]:
    """track id → sandbox id, every allocation through the gateway."""
    gate = asyncio.Semaphore(50)
    async with TrackClient(stack.url, stack.info["track_token"]) as client:

        async def one(track: str) -> tuple[str, str]:
            async with gate:
                got = await client.allocate(track, timeout=120)
                return track, got.sandbox_id

        return dict(await asyncio.gather(*(one(t) for t in tracks)))


async def test_a_burst_of_200_allocations_emits_exactly_200_lease_allocated_ids(
    events_stack: RunningStack, sink: EventsSink
) -> None:
    tracks = [f"burst-{n:03d}" for n in range(200)]
    held = await _allocate_all(events_stack, tracks)
    assert len(set(held.values())) == 200

    def mine() -> list[dict]:
        return [
            e
            for e in sink.received
            if e["type"] == "lease.allocated" and str(e["track_id"]).startswith("burst-")
        ]

    await wait_until(
        lambda: len({e["id"] for e in mine()}) >= 200, timeout=120, what="200 lease.allocated"
    )
    events = mine()
    by_id = {e["id"]: e for e in events}  # duplicates on the wire are allowed: dedup by id
    assert len(by_id) == 200
    assert {(e["track_id"], e["sandbox_id"]) for e in by_id.values()} == set(held.items())
    assert all(e["source"] == "sandbox-broker" and e["tenant"] == "default" for e in events)


async def test_a_webhook_down_for_30_s_loses_no_event(
    events_stack: RunningStack, sink: EventsSink, http: httpx.AsyncClient
) -> None:
    await sink.stop()
    try:
        tracks = [f"outage-{n}" for n in range(6)]
        held = await _allocate_all(events_stack, tracks)
        async with TrackClient(events_stack.url, events_stack.info["track_token"]) as client:
            for track in tracks[:3]:
                await client.release(track, held[track], timeout=60)
        await asyncio.sleep(WEBHOOK_DOWN_S)  # the outage itself, not a synchronisation
    finally:
        await sink.start()

    def seen(kind: str) -> set[str]:
        return {
            e["track_id"]
            for e in sink.received
            if e["type"] == kind and str(e["track_id"]).startswith("outage-")
        }

    await wait_until(
        lambda: (
            seen("lease.allocated") == set(tracks) and seen("lease.released") == set(tracks[:3])
        ),
        timeout=60,
        what="every event of the outage delivered",
    )
    released = held[tracks[0]]
    page = await http.get(
        f"/v1/admin/sandboxes/{released}/history", headers=events_stack.admin_headers
    )
    assert page.status_code == 200
    (lease,) = page.json()["items"]
    assert (lease["track_id"], lease["end"]) == (tracks[0], "released")


async def _job_reply(http: httpx.AsyncClient, stack: RunningStack, response: httpx.Response):
    assert response.status_code == 202, response.text
    request_id = response.json()["request_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        reply = (await http.get(f"/v1/requests/{request_id}", headers=stack.admin_headers)).json()
        if reply["status"] != "pending":
            return reply
        await asyncio.sleep(0.1)  # polling the reply, as a client does
    raise AssertionError(f"no reply for {request_id}")


async def test_operator_verbs_through_the_gateway_with_refusals_and_their_events(
    events_stack: RunningStack, sink: EventsSink, http: httpx.AsyncClient
) -> None:
    held = await _allocate_all(events_stack, ["verbs-1"])
    allocated = held["verbs-1"]
    listing = await http.get(
        "/v1/admin/sandboxes",
        params={"status": "available", "limit": 1},
        headers=events_stack.admin_headers,
    )
    (free,) = [i["sandbox_id"] for i in listing.json()["items"]]
    admin = events_stack.admin_headers

    async def act(sandbox_id: str, verb: str, reason: str | None = None) -> dict:
        body = {"reason": reason} if reason else None
        response = await http.post(
            f"/v1/admin/sandboxes/{sandbox_id}/{verb}", headers=admin, json=body
        )
        return await _job_reply(http, events_stack, response)

    refused = await act(allocated, "quarantine", "bad account")
    assert (refused["status"], refused["error"]["code"]) == ("failed", "INVALID_REQUEST")
    assert "it is allocated" in refused["error"]["message"]
    unknown = await act("sbx-does-not-exist", "retry")
    assert unknown["error"]["code"] == "SANDBOX_NOT_FOUND"

    done = await act(free, "quarantine", "MFA lost")
    assert done["status"] == "succeeded", done
    stats = (await http.get("/v1/admin/stats", headers=admin)).json()
    assert stats["quarantined"] >= 1
    forced = await act(allocated, "release", "stuck lab")
    assert forced["status"] == "succeeded", forced
    retried = await act(free, "retry")
    assert retried["status"] == "succeeded", retried

    def kinds(sandbox_id: str) -> list[str]:
        return [e["type"] for e in sink.received if e["sandbox_id"] == sandbox_id]

    await wait_until(
        lambda: "sandbox.quarantined" in kinds(free) and "lease.forced" in kinds(allocated),
        timeout=60,
        what="the operator's events",
    )
    (quarantined,) = [
        e for e in sink.received if e["sandbox_id"] == free and e["type"] == "sandbox.quarantined"
    ]
    assert quarantined["reason"] == "MFA lost"
    history = await http.get(f"/v1/admin/sandboxes/{allocated}/history", headers=admin)
    (lease,) = history.json()["items"]
    assert (lease["track_id"], lease["end"]) == ("verbs-1", "forced")
