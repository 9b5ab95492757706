"""Waiting allocations (v2) on a real moto server, with an injected clock for deadlines.

Ordering: waiters are served by (requested_at, request_id). Here every waiter is durable
before the first sandbox returns, so the window is zero and the order is asserted exactly;
in production a request whose waiter item is not written yet (its message still in SQS,
typically well under a second) can be overtaken by a younger waiter for that long.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from consumers.services.allocation import AllocationService
from consumers.services.replies import ReplyFactory
from consumers.services.reservoir import CandidateReservoir
from consumers.services.waiting import WaiterPump
from consumers.stores.waiters import WaiterStore
from schemas.errors import ErrorCode
from schemas.pool import WAIT_PK, SandboxStatus
from schemas.replies import ReplyStatus
from tests.factories import allocate_message, sandbox, wait_until

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Consumer:
    """One consumer process's allocation service and pump (its own reservoir)."""

    def __init__(self, alloc_env, clock: Clock) -> None:
        self.waiters = WaiterStore(alloc_env.pool._ddb, table=alloc_env.pool.table)
        pool = alloc_env.pool
        reservoir = CandidateReservoir(
            lambda prefix, limit, start: pool.candidate_page(
                name_prefix=prefix, limit=limit, start_key=start
            ),
            page_size=100,
        )
        factory = ReplyFactory(ttl_s=3600, clock=clock)
        self.allocation = AllocationService(
            pool,
            reservoir=reservoir,
            reply_factory=factory,
            metrics=alloc_env.metrics,
            lab_duration_s=4 * 3600,
            clock=clock,
            waiters=self.waiters,
        )
        self.pump = WaiterPump(
            self.waiters,
            self.allocation,
            replies=alloc_env.replies,
            reply_factory=factory,
            metrics=alloc_env.metrics,
            interval_s=0.1,
            clock=clock,
        )

    async def waiting(self) -> list:
        return [w async for w in self.waiters.oldest()]


T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def waiting_message(i: int, *, wait_s: int = 60, **kw):
    return allocate_message(
        f"track-{i:03d}",
        wait_for_sandbox_s=wait_s,
        requested_at=T0 + timedelta(milliseconds=10 * i),
        **kw,
    )


async def test_an_allocate_that_may_wait_leaves_a_waiter_and_no_reply(alloc_env) -> None:
    consumer = Consumer(alloc_env, Clock(T0.timestamp() + 1))
    msg = waiting_message(1)

    assert await consumer.allocation.allocate(msg) is None
    assert await consumer.allocation.allocate(msg, attempts=2) is None  # redelivered

    (waiter,) = await consumer.waiting()
    assert waiter.key == {
        "PK": WAIT_PK,
        "SK": f"{int(T0.timestamp() * 1000) + 10:013d}#{msg.request_id}",
    }
    assert waiter.message == msg
    assert waiter.deadline == pytest.approx(msg.requested_at.timestamp() + 60)
    assert await alloc_env.replies.get(msg.request_id) is None  # still pending


async def test_no_wait_or_a_wait_already_over_is_answered_at_once(alloc_env) -> None:
    consumer = Consumer(alloc_env, Clock(T0.timestamp() + 61))
    at_once = await consumer.allocation.allocate(allocate_message("t-0"))
    over = await consumer.allocation.allocate(waiting_message(1))  # 60 s ago
    assert at_once.error.code is over.error.code is ErrorCode.NO_SANDBOXES_AVAILABLE
    assert await consumer.waiting() == []


async def test_fifty_waiters_thirty_returned_sandboxes_oldest_first_the_rest_time_out(
    alloc_env,
) -> None:
    clock = Clock(T0.timestamp() + 1)
    consumers = [Consumer(alloc_env, clock), Consumer(alloc_env, clock)]  # two pumps
    messages = [waiting_message(i) for i in range(50)]
    # enqueued in a shuffled order: the waiting list orders them by requested_at
    for i in [*range(1, 50, 2), *range(0, 50, 2)]:
        assert await consumers[i % 2].allocation.allocate(messages[i]) is None
    assert [w.message.request_id for w in await consumers[0].waiting()] == [
        m.request_id for m in messages
    ]

    for n in range(30):  # returned one by one, both pumps racing for each
        await alloc_env.pool.put_available(sandbox(n))
        outcomes = await asyncio.gather(*(c.pump.serve() for c in consumers))
        assert sum(served for served, _ in outcomes) == 1
        reply = await alloc_env.replies.get(messages[n].request_id)
        assert reply.status is ReplyStatus.SUCCEEDED, n
        assert reply.result["sandbox_id"] == f"sbx-{n:05d}"

    # nothing left to serve: the younger 20 still wait, until their deadline
    assert [w.message for w in await consumers[0].waiting()] == messages[30:]
    assert (await consumers[0].pump.serve())[1] == pytest.approx(
        messages[30].requested_at.timestamp() + 60
    )
    clock.now = T0.timestamp() + 61
    await asyncio.gather(*(c.pump.serve() for c in consumers))

    for msg in messages[30:]:
        reply = await alloc_env.replies.get(msg.request_id)
        assert reply.status is ReplyStatus.FAILED
        assert reply.error.code is ErrorCode.NO_SANDBOXES_AVAILABLE
    assert await consumers[0].waiting() == []
    assert await alloc_env.pool.count(SandboxStatus.ALLOCATED) == 30


async def test_a_waiter_for_a_prefix_does_not_hold_up_younger_waiters(alloc_env) -> None:
    consumer = Consumer(alloc_env, Clock(T0.timestamp() + 1))
    gcp = waiting_message(0, name_prefix="lab-gcp")
    anything = waiting_message(1)
    for msg in (gcp, anything):
        assert await consumer.allocation.allocate(msg) is None

    await alloc_env.pool.put_available(sandbox(7, prefix="lab-aws"))
    assert (await consumer.pump.serve())[0] == 1

    assert (await alloc_env.replies.get(anything.request_id)).result["sandbox_id"] == "sbx-00007"
    assert await alloc_env.replies.get(gcp.request_id) is None
    assert [w.message for w in await consumer.waiting()] == [gcp]


async def test_many_waiters_served_by_two_pumps_at_once_each_get_one_sandbox(alloc_env) -> None:
    clock = Clock(T0.timestamp() + 1)
    consumers = [Consumer(alloc_env, clock) for _ in range(2)]
    messages = [waiting_message(i) for i in range(12)]
    for msg in messages:
        assert await consumers[0].allocation.allocate(msg) is None
    await alloc_env.seed(12)

    await asyncio.gather(*(c.pump.serve() for c in consumers))

    replies = [await alloc_env.replies.get(m.request_id) for m in messages]
    assert all(r.status is ReplyStatus.SUCCEEDED for r in replies)
    assert len({r.result["sandbox_id"] for r in replies}) == 12
    assert await consumers[0].waiting() == []


async def test_a_waiter_whose_track_got_a_sandbox_meanwhile_is_answered_with_it(
    alloc_env,
) -> None:
    """The waiting message redelivered and served directly: the pump answers the same."""
    consumer = Consumer(alloc_env, Clock(T0.timestamp() + 1))
    msg = waiting_message(0)
    assert await consumer.allocation.allocate(msg) is None
    await alloc_env.seed(2)
    direct = await consumer.allocation.allocate(msg, attempts=2)  # a sandbox is there now

    await consumer.pump.serve()

    assert await consumer.waiting() == []
    assert await alloc_env.replies.get(msg.request_id) == direct
    assert await alloc_env.pool.count(SandboxStatus.ALLOCATED) == 1


async def test_the_pump_loop_wakes_for_a_new_waiter_and_answers_by_the_deadline(
    alloc_env,
) -> None:
    """The real loop (real clock, a 30 s interval): a waiter is answered at its deadline."""
    consumer = Consumer(alloc_env, time.time)  # type: ignore[arg-type]
    consumer.pump._interval_s = 30.0
    stop = asyncio.Event()
    runner = asyncio.ensure_future(consumer.pump.run(stop))
    try:
        msg = allocate_message("t-loop", wait_for_sandbox_s=3)
        assert await consumer.allocation.allocate(msg) is None
        consumer.pump.wake()
        await wait_until(lambda: alloc_env.replies.get(msg.request_id), timeout=30, what="answered")
        reply = await alloc_env.replies.get(msg.request_id)
        assert reply.error.code is ErrorCode.NO_SANDBOXES_AVAILABLE
        # by the deadline, not by the 30 s interval
        assert 3 <= reply.completed_at - msg.requested_at.timestamp() < 20
    finally:
        stop.set()
        await asyncio.wait_for(runner, 10)


async def test_a_new_waiting_request_queues_behind_the_waiters_already_there(alloc_env) -> None:
    """A sandbox that comes back goes to the longest waiter, not to whoever asks next."""
    consumer = Consumer(alloc_env, Clock(T0.timestamp() + 1))
    consumer.allocation._waiters_ahead = lambda: consumer.pump.waiters_ahead
    older = waiting_message(0)
    assert await consumer.allocation.allocate(older) is None
    await consumer.pump.serve()  # none available: the pass leaves it waiting
    assert consumer.pump.waiters_ahead

    await alloc_env.pool.put_available(sandbox(3))
    newcomer = waiting_message(5)
    assert await consumer.allocation.allocate(newcomer) is None  # queued, not claimed
    assert (await consumer.pump.serve())[0] == 1

    assert (await alloc_env.replies.get(older.request_id)).result["sandbox_id"] == "sbx-00003"
    assert await alloc_env.replies.get(newcomer.request_id) is None
    # one that may not wait still claims (or is refused) at once
    at_once = await consumer.allocation.allocate(allocate_message("t-now"))
    assert at_once.error.code is ErrorCode.NO_SANDBOXES_AVAILABLE


async def test_the_pump_reports_how_many_are_left_waiting(alloc_env) -> None:
    consumer = Consumer(alloc_env, Clock(T0.timestamp() + 1))
    for i in range(3):
        assert await consumer.allocation.allocate(waiting_message(i)) is None
    await alloc_env.seed(1)
    await consumer.pump.serve()
    registry = alloc_env.metrics.registry
    assert registry.get_sample_value("broker_waiters_waiting") == 2
    assert registry.get_sample_value("broker_waiters_total", {"outcome": "served"}) >= 1


async def test_one_failing_waiter_does_not_starve_those_behind_it(alloc_env) -> None:
    consumer = Consumer(alloc_env, Clock(T0.timestamp() + 1))
    broken, fine = waiting_message(0), waiting_message(1)
    for msg in (broken, fine):
        assert await consumer.allocation.allocate(msg) is None
    await alloc_env.seed(1)
    serve = consumer.allocation.serve_waiter

    async def failing(waiter):
        if waiter.message.request_id == broken.request_id:
            raise RuntimeError("DynamoDB throttled")
        return await serve(waiter)

    consumer.allocation.serve_waiter = failing
    assert (await consumer.pump.serve())[0] == 1

    assert (await alloc_env.replies.get(fine.request_id)).status is ReplyStatus.SUCCEEDED
    assert [w.message for w in await consumer.waiting()] == [broken]  # tried again later
