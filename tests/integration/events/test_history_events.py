"""Lease history and events derived from the pool table's stream, on a real moto server.

The services change the pool as the consumer would; the stream reader (the `events`
process's) turns the changes into history and events; the history is read back through the
gateway's route. The extend step writes the extension the way an extend does (a later
``expires_at`` on the allocated item): the `extend` message itself is the lease helper's
work and lands separately — this is the hook its history and events are derived from.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from consumers.events.reader import StreamReader
from consumers.services.leases import LeaseService
from consumers.services.operator import OperatorService
from consumers.services.replies import ReplyFactory
from consumers.stores.history import HistoryStore
from consumers.stores.leases import LeaseStore
from consumers.stores.operator import OperatorStore
from producers.gateway import create_app
from schemas.events import EventType, LeaseEvent
from schemas.messages import ExtendMessage, ForceReleaseJob, QuarantineJob
from schemas.replies import ReplyStatus
from tests.factories import allocate_message, release_message, request_id, wait_until
from tests.integration.consumers.test_jobs_service import Clock, FakeCsp, _collector, jobs
from tests.integration.gateway.helpers import admin, gateway_settings

pytestmark = pytest.mark.integration


class Collected:
    def __init__(self) -> None:
        self.events: list[LeaseEvent] = []

    async def publish(self, events: list[LeaseEvent]) -> None:
        self.events += events

    def types(self) -> list[str]:
        return [e.type.value for e in self.events]


def reader(alloc_env, streams, sink: Collected) -> StreamReader:
    table = alloc_env.pool.table
    return StreamReader(
        ddb=alloc_env.pool._ddb,
        streams=streams,
        table=table,
        history=HistoryStore(alloc_env.pool._ddb, table=table),
        publish=sink.publish,
    )


async def read_until(r: StreamReader, sink: Collected, kind: EventType, n: int = 1) -> None:
    async def seen() -> bool:
        await r.poll_once()
        return sum(e.type is kind for e in sink.events) >= n

    await wait_until(seen, timeout=20, what=f"{n} {kind.value} event(s)")


@pytest.fixture
async def admin_http(alloc_env, sqs, ddb):
    app = create_app(gateway_settings(alloc_env.settings), sqs=sqs, ddb=ddb)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw.test"
    ) as client:
        yield client


async def _extend(alloc_env, sandbox_id: str, track_id: str, by_s: int) -> float:
    """The real extend (the lease service, as the consumer's handler runs it)."""
    service = LeaseService(
        LeaseStore(alloc_env.pool, alloc_env.pool._ddb),
        reply_factory=ReplyFactory(ttl_s=3600),
        metrics=alloc_env.metrics,
        lab_duration_s=4 * 3600,
        extension_s=3600,
        max_lease_s=12 * 3600,
    )
    message = ExtendMessage(
        request_id=request_id(), track_id=track_id, sandbox_id=sandbox_id, extend_by_s=by_s
    )
    reply = await service.extend(message)
    assert reply.status is ReplyStatus.SUCCEEDED, reply
    expires_at: float = reply.result["expires_at"]
    return expires_at


async def test_every_lease_is_in_the_history_in_order_and_each_change_is_one_event(
    alloc_env, streams, admin_http
) -> None:
    """GIVEN one sandbox, WHEN it is allocated → extended → released → deleted (cleanup) →
    synced back → re-allocated → expired, THEN its history holds both leases newest first
    with their ends and extension, the events are exactly those changes in order, and a
    replay of the whole stream (no checkpoint) yields the same ids and no new history."""
    csp = FakeCsp()
    csp.add(1)
    svc = jobs(alloc_env, csp, time.time)
    await svc.sync()
    allocator = alloc_env.service()
    first = await allocator.allocate(allocate_message("trk-1", track_name="aws-lab"))
    sid = first.result["sandbox_id"]
    extended_to = await _extend(alloc_env, sid, "trk-1", 1800)
    await allocator.release(release_message("trk-1", sid))
    published, publish = _collector()
    await svc.cleanup(publish, request_id="req_cl1")
    assert (await svc.delete_sandbox(published[0], attempt=1)).result.changed == 1
    csp.add(1)
    await svc.sync()
    second = await alloc_env.service().allocate(allocate_message("trk-2"))
    assert second.result["sandbox_id"] == sid
    expirer = jobs(alloc_env, csp, Clock(second.result["allocated_at"] + 20_000))
    assert (await expirer.expire()).changed == 1

    sink = Collected()
    r = reader(alloc_env, streams, sink)
    await read_until(r, sink, EventType.LEASE_EXPIRED)
    assert sink.types() == [
        "sandbox.returned",
        "lease.allocated",
        "lease.extended",
        "lease.released",
        "sandbox.deleted",
        "sandbox.returned",
        "lease.allocated",
        "lease.expired",
    ]
    assert len({e.id for e in sink.events}) == len(sink.events)
    allocated = [e for e in sink.events if e.type is EventType.LEASE_ALLOCATED]
    assert [(e.track_id, e.allocated_at) for e in allocated] == [
        ("trk-1", first.result["allocated_at"]),
        ("trk-2", second.result["allocated_at"]),
    ]
    assert sink.events[3].end == "released" and sink.events[3].ended_at is not None

    response = await admin_http.get(f"/v1/admin/sandboxes/{sid}/history", headers=admin())
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    newest, oldest = page["items"]
    assert (newest["track_id"], newest["end"], newest["extensions"]) == ("trk-2", "expired", 0)
    assert (oldest["track_id"], oldest["end"], oldest["extensions"]) == ("trk-1", "released", 1)
    assert oldest["track_name"] == "aws-lab" and oldest["tenant"] == "default"
    assert oldest["expires_at"] == extended_to
    assert oldest["allocated_at"] == first.result["allocated_at"]
    assert oldest["ended_at"] >= oldest["allocated_at"]

    # a restart without its checkpoint replays everything: same ids, the history unchanged
    await alloc_env.pool._ddb.delete_item(
        TableName=alloc_env.pool.table,
        Key={
            "PK": {"S": f"STREAM#{alloc_env.pool.table}"},
            "SK": {"S": r._shards and next(iter(r._shards))},
        },
    )
    replay = Collected()
    again = reader(alloc_env, streams, replay)
    await read_until(again, replay, EventType.LEASE_EXPIRED)
    assert [e.id for e in replay.events] == [e.id for e in sink.events]
    assert (
        await admin_http.get(f"/v1/admin/sandboxes/{sid}/history", headers=admin())
    ).json() == page
    # and a restart from its checkpoint publishes nothing again
    later = Collected()
    resumed = reader(alloc_env, streams, later)
    await resumed.poll_once()
    await resumed.poll_once()
    assert later.events == []


async def test_operator_changes_are_events_and_a_forced_lease_ends_forced(
    alloc_env, streams, admin_http
) -> None:
    await alloc_env.seed(2)
    got = await alloc_env.service().allocate(allocate_message("trk-f"))
    held = got.result["sandbox_id"]
    free = next(s for s in ("sbx-00000", "sbx-00001") if s != held)
    ops = OperatorService(OperatorStore(alloc_env.pool._ddb, table=alloc_env.pool.table))
    await ops.run(QuarantineJob(request_id="adm_q", sandbox_id=free, reason="MFA lost"))
    await ops.run(ForceReleaseJob(request_id="adm_f", sandbox_id=held, reason="stuck lab"))

    sink = Collected()
    await read_until(reader(alloc_env, streams, sink), sink, EventType.LEASE_FORCED)
    quarantined = next(e for e in sink.events if e.type is EventType.SANDBOX_QUARANTINED)
    assert (quarantined.sandbox_id, quarantined.reason) == (free, "MFA lost")
    forced = next(e for e in sink.events if e.type is EventType.LEASE_FORCED)
    assert (forced.sandbox_id, forced.track_id, forced.end, forced.reason) == (
        held,
        "trk-f",
        "forced",
        "stuck lab",
    )
    items = (await admin_http.get(f"/v1/admin/sandboxes/{held}/history", headers=admin())).json()[
        "items"
    ]
    assert [(i["track_id"], i["end"]) for i in items] == [("trk-f", "forced")]


async def test_history_pages_with_a_cursor_bound_to_its_sandbox(alloc_env, admin_http) -> None:
    history = HistoryStore(alloc_env.pool._ddb, table=alloc_env.pool.table)
    from consumers.stores.history import CloseLease, OpenLease
    from schemas.events import LeaseRecord

    for n in range(3):
        lease = LeaseRecord(sandbox_id="sbx-p", track_id=f"t{n}", allocated_at=1000.0 + n)
        assert await history.apply(OpenLease(lease))
        assert not await history.apply(OpenLease(lease))  # a replay changes nothing
        assert await history.apply(CloseLease("sbx-p", 1000.0 + n, 1500.0 + n, "released"))
        assert not await history.apply(CloseLease("sbx-p", 1000.0 + n, 1600.0, "expired"))
    url = "/v1/admin/sandboxes/sbx-p/history"
    first = (await admin_http.get(url, params={"limit": 2}, headers=admin())).json()
    assert [i["track_id"] for i in first["items"]] == ["t2", "t1"]
    assert first["next_cursor"]
    rest = (
        await admin_http.get(url, params={"cursor": first["next_cursor"]}, headers=admin())
    ).json()
    assert [i["track_id"] for i in rest["items"]] == ["t0"] and rest["next_cursor"] is None
    other = await admin_http.get(
        "/v1/admin/sandboxes/sbx-q/history",
        params={"cursor": first["next_cursor"]},
        headers=admin(),
    )
    assert other.status_code == 400
    bad: list[dict[str, Any]] = [
        {"cursor": "forged.cursor"},
        {"limit": "0"},
        {"limit": "101"},
        {"status": "available"},
    ]
    for params in bad:
        refused = await admin_http.get(url, params=params, headers=admin())
        assert refused.status_code == 400, params
        assert refused.json()["error"]["code"] == "INVALID_REQUEST"
    empty = (await admin_http.get("/v1/admin/sandboxes/sbx-none/history", headers=admin())).json()
    assert empty == {"items": [], "next_cursor": None}
    assert (await admin_http.get(url)).status_code == 401
