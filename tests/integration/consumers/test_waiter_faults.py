"""Waiting allocations with real consumer processes: a SIGKILL mid-wait loses no waiter."""

from __future__ import annotations

import pytest

from consumers.stores.waiters import WaiterStore
from schemas.errors import ErrorCode
from schemas.replies import ReplyStatus
from tests.factories import allocate_message, sandbox, wait_until
from tests.integration.consumers.processes import start_consumer
from tests.integration.consumers.test_faults import _queue_empty, _send_request

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: The younger waiter's wait: long enough to be stored and survive the kill on a loaded
#: machine, short enough to be answered within the test.
WAIT_S = 15


async def _count_is(count, expected: int) -> bool:
    return await count() == expected


FAST_PUMP = {"BROKER_WAITER_INTERVAL_S": "0.2", "BROKER_VISIBILITY_TIMEOUT_S": "2"}


async def test_a_consumer_killed_mid_wait_loses_no_waiter(alloc_env, sqs, tmp_path) -> None:
    """GIVEN two waiters stored by a consumer (their messages acknowledged: no FIFO group or
    worker held), WHEN it is SIGKILLed and another consumer starts, THEN the older waiter
    gets the sandbox that returns and the other its NO_SANDBOXES_AVAILABLE at its deadline."""
    settings = alloc_env.settings
    url = (await sqs.get_queue_url(QueueName=settings.names.requests_queue))["QueueUrl"]
    waiters = WaiterStore(alloc_env.pool._ddb, table=alloc_env.pool.table)

    async def stored() -> int:
        return len([w async for w in waiters.oldest()])

    first = start_consumer(settings, tmp_path / "a.log", **FAST_PUMP)
    try:
        # the consumer is up and answering before the waits start (a loaded machine may
        # take seconds to start it): an allocate that may not wait is refused at once
        warm = allocate_message("track-warm")
        await _send_request(sqs, url, warm)
        await wait_until(lambda: alloc_env.replies.get(warm.request_id), timeout=60, what="up")
        older = allocate_message("track-wait-1", wait_for_sandbox_s=120)
        younger = allocate_message("track-wait-2", wait_for_sandbox_s=WAIT_S)
        await _send_request(sqs, url, older)
        await _send_request(sqs, url, younger)
        await wait_until(lambda: _queue_empty(sqs, url), timeout=60, what="messages acked")
        await wait_until(lambda: _count_is(stored, 2), timeout=30, what="both waiters stored")
    finally:
        first.kill()
    assert await alloc_env.replies.get(older.request_id) is None  # still pending

    await alloc_env.pool.put_available(sandbox(1))
    second = start_consumer(settings, tmp_path / "b.log", **FAST_PUMP)
    try:
        await wait_until(
            lambda: alloc_env.replies.get(older.request_id), timeout=60, what="older served"
        )
        await wait_until(
            lambda: alloc_env.replies.get(younger.request_id), timeout=60, what="younger answered"
        )
    finally:
        assert second.terminate() == 0

    served = await alloc_env.replies.get(older.request_id)
    assert served.status is ReplyStatus.SUCCEEDED
    assert served.result["sandbox_id"] == "sbx-00001"
    refused = await alloc_env.replies.get(younger.request_id)
    assert refused.error.code is ErrorCode.NO_SANDBOXES_AVAILABLE
    # answered at its deadline, not before
    assert refused.completed_at >= younger.requested_at.timestamp() + WAIT_S
    assert await stored() == 0
