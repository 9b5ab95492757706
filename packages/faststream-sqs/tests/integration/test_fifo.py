"""FIFO groups on moto: concurrent across groups, strictly in order within one, skip on failure."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest
from pydantic import BaseModel
from sqs_moto import (
    QueueFactory,
    queue_counts,
    running,
    wait_until,
)

from faststream_sqs.annotations import SQSMessage

pytestmark = pytest.mark.integration


class Step(BaseModel):
    group: str
    n: int


async def publish_groups(broker: Any, queue: str, steps: list[Step]) -> None:
    result = await broker.publish_batch(
        *steps,
        queue=queue,
        message_group_id=lambda step: step.group,
        message_deduplication_id=lambda step: f"{step.group}-{step.n}-{uuid.uuid4().hex[:6]}",
        raise_on_failure=True,
    )
    assert len(result.sent) == len(steps)


async def test_twenty_groups_of_twenty_run_concurrently_each_in_send_order_once(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN 20 groups x 20 messages sent interleaved
    queue = await make_queue(fifo=True)
    broker, _ = await make_broker()
    handled: dict[str, list[int]] = defaultdict(list)
    in_flight: Counter[str] = Counter()
    overlap_seen: list[str] = []
    concurrency = {"now": 0, "max": 0}

    @broker.subscriber(queue.name, max_workers=8, wait_time_s=1)
    async def handle(step: Step) -> None:
        in_flight[step.group] += 1
        concurrency["now"] += 1
        concurrency["max"] = max(concurrency["max"], concurrency["now"])
        if in_flight[step.group] > 1:
            overlap_seen.append(step.group)
        await asyncio.sleep(0.002)  # a little work, so groups overlap in time
        handled[step.group].append(step.n)
        concurrency["now"] -= 1
        in_flight[step.group] -= 1

    steps = [Step(group=f"g{g:02d}", n=n) for n in range(20) for g in range(20)]
    async with running(broker):
        await publish_groups(broker, queue.name, steps)
        # WHEN the broker has handled all 400
        await wait_until(lambda: sum(map(len, handled.values())) >= 400, 60, what="400 handled")
        await wait_until(lambda: _empty(sqs, queue.url), 10, what="acks flushed")

    # THEN every group's calls are in send order, each message once, never two at a time
    assert set(handled) == {f"g{g:02d}" for g in range(20)}
    for group, numbers in handled.items():
        assert numbers == list(range(20)), group
    assert overlap_seen == []
    assert 1 < concurrency["max"] <= 8


async def _empty(sqs: Any, url: str) -> bool:
    return await queue_counts(sqs, url) == (0, 0)


async def test_a_failure_skips_the_rest_of_its_group_and_leaves_other_groups_alone(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN group "bad" whose 2nd message fails on its first delivery, and group "good"
    queue = await make_queue(fifo=True)
    broker, _ = await make_broker()
    events: list[tuple[str, int, int, str]] = []

    @broker.subscriber(
        queue.name, max_workers=4, wait_time_s=1, max_attempts=2, retry_backoff_s=0.01
    )
    async def handle(step: Step, msg: SQSMessage) -> None:
        if step.group == "bad" and step.n == 2 and msg.receive_count == 1:
            events.append((step.group, step.n, msg.receive_count, "failed"))
            raise RuntimeError("not yet")
        events.append((step.group, step.n, msg.receive_count, "ok"))

    # sent before the broker polls, so its first receive takes all ten in one batch
    steps = [Step(group=g, n=n) for n in range(1, 6) for g in ("bad", "good")]
    await broker.connect()
    await publish_groups(broker, queue.name, steps)
    async with running(broker):
        # WHEN everything has been handled successfully
        await wait_until(
            lambda: sum(1 for e in events if e[3] == "ok") == 10, 20, what="10 successes"
        )

    bad = [(n, count, outcome) for group, n, count, outcome in events if group == "bad"]
    good = [(n, count, outcome) for group, n, count, outcome in events if group == "good"]
    # THEN "bad" ran in order: 2 failed twice in place, 3..5 were released unhandled and
    # came back with it (receive count 2), never handled before 2 succeeded
    assert bad == [
        (1, 1, "ok"),
        (2, 1, "failed"),
        (2, 1, "failed"),
        (2, 2, "ok"),
        (3, 2, "ok"),
        (4, 2, "ok"),
        (5, 2, "ok"),
    ]
    # AND "good" was never held back nor redelivered
    assert good == [(n, 1, "ok") for n in range(1, 6)]
