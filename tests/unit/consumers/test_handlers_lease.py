"""Handlers v2: extend is routed to the lease service; a sync wakes the waiter pump."""

from __future__ import annotations

from consumers.services.replies import ReplyFactory
from schemas.messages import ExtendMessage, SyncJob
from schemas.replies import JobResult, ReplyStatus
from tests.factories import allocate_message
from tests.unit.consumers.test_handlers import FakeDelivery, FakeJobs, handlers


class FakeLeases:
    def __init__(self) -> None:
        self.seen: list[tuple[ExtendMessage, int]] = []

    async def extend(self, message, *, attempts):
        self.seen.append((message, attempts))
        return ReplyFactory(ttl_s=60).succeeded(
            request_id=message.request_id,
            action="extend",
            track_id=message.track_id,
            result={"sandbox_id": message.sandbox_id, "expires_at": 1.0, "idempotent": False},
            attempts=attempts,
            tenant=message.tenant,
        )


class WaitingAllocation:
    async def allocate(self, message, *, attempts):
        return None  # the waiter is stored; no reply yet


async def test_extend_goes_to_the_lease_service() -> None:
    h, _replies, metrics = handlers()
    h.leases = FakeLeases()
    msg = ExtendMessage(request_id="req_x1", track_id="t", sandbox_id="sbx-1", extend_by_s=600)
    reply = await h.on_request(msg, FakeDelivery(receive_count=2))
    assert reply.status is ReplyStatus.SUCCEEDED
    assert h.leases.seen == [(msg, 2)]
    sample = metrics.registry.get_sample_value(
        "broker_replies_total", {"action": "extend", "status": "succeeded", "code": ""}
    )
    assert sample == 1


async def test_a_waiting_allocation_has_no_reply_yet_and_is_not_counted() -> None:
    h, replies, metrics = handlers(allocation=WaitingAllocation())
    assert await h.on_request(allocate_message("t", wait_for_sandbox_s=30), FakeDelivery()) is None
    assert replies.rows == {}
    assert (
        metrics.registry.get_sample_value(
            "broker_replies_total", {"action": "allocate", "status": "succeeded", "code": ""}
        )
        is None
    )


async def test_a_finished_sync_wakes_the_waiter_pump() -> None:
    woken: list[bool] = []
    h, _replies, _ = handlers(jobs=FakeJobs(sync=JobResult(examined=1, changed=1)))
    h.after_sync = lambda: woken.append(True)
    await h.on_job(SyncJob(request_id="req_s1"), FakeDelivery())
    assert woken == [True]
