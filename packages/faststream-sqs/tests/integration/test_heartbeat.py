"""The heartbeat on moto: slow work and buffered messages stay invisible to other consumers."""

from __future__ import annotations

import asyncio
import time
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

VISIBILITY_S = 2
SLOW_HANDLER_S = 3 * VISIBILITY_S


class Item(BaseModel):
    n: int


@pytest.mark.slow
async def test_a_handler_running_three_timeouts_and_the_messages_behind_it_stay_invisible(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN one worker, a 2 s visibility timeout, and three messages received together:
    # the first handled takes 6 s, the other two wait in the buffer meanwhile
    queue = await make_queue()
    await sqs.send_message_batch(
        QueueUrl=queue.url,
        Entries=[{"Id": str(n), "MessageBody": Item(n=n).model_dump_json()} for n in range(3)],
    )
    broker, counter = await make_broker()
    handled: list[tuple[int, int]] = []

    @broker.subscriber(queue.name, max_workers=1, wait_time_s=1, visibility_timeout_s=VISIBILITY_S)
    async def handle(item: Item, msg: SQSMessage) -> None:
        handled.append((item.n, msg.receive_count))
        if len(handled) == 1:
            await asyncio.sleep(SLOW_HANDLER_S)

    async with running(broker):
        await wait_until(lambda: len(handled) == 1, 10, what="the slow handler to start")
        assert await queue_counts(sqs, queue.url) == (0, 3)
        # WHEN a second consumer polls the queue all the while the slow handler runs
        peeked: list[dict[str, Any]] = []
        until = time.monotonic() + SLOW_HANDLER_S - 0.5
        while time.monotonic() < until:
            response = await sqs.receive_message(
                QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=1
            )
            peeked.extend(response.get("Messages", []))
        await wait_until(lambda: len(handled) == 3, 10, what="all three handled")

    # THEN it saw nothing, and each message was handled once, on its first receive
    assert peeked == []
    assert sorted(handled) == [(0, 1), (1, 1), (2, 1)]
    assert counter.calls["ChangeMessageVisibilityBatch"] >= 2
