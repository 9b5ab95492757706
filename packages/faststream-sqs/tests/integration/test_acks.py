"""Batched acks on moto: few calls per message, per-entry failures retried, nack delays."""

from __future__ import annotations

import time
import uuid
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


class Item(BaseModel):
    group: str
    n: int


async def preload(sqs: Any, url: str, items: list[Item]) -> None:
    """Send through the test's own client, so the broker's counter sees only consuming."""
    for start in range(0, len(items), 10):
        chunk = items[start : start + 10]
        response = await sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": item.model_dump_json(),
                    "MessageGroupId": item.group,
                    "MessageDeduplicationId": uuid.uuid4().hex,
                }
                for i, item in enumerate(chunk)
            ],
        )
        assert not response.get("Failed")


async def test_receive_and_delete_calls_per_message_stay_under_a_quarter_at_steady_load(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN a backlog of 400 messages in 100 groups (many tracks, as in production: with
    # fewer groups than pollers, SQS would have nothing to hand out while they are held)
    queue = await make_queue(fifo=True)
    await preload(sqs, queue.url, [Item(group=f"g{n % 100}", n=n) for n in range(400)])
    broker, counter = await make_broker()
    handled: list[int] = []

    @broker.subscriber(queue.name, max_workers=8, batch_size=10, wait_time_s=1)
    async def handle(item: Item) -> None:
        handled.append(item.n)

    async def all_deleted() -> bool:
        return await queue_counts(sqs, queue.url) == (0, 0)

    async with running(broker):
        # WHEN the backlog has been handled and deleted
        await wait_until(lambda: len(handled) == 400, 60, what="400 handled")
        await wait_until(all_deleted, 10, what="all deleted")
        calls = dict(counter.calls)

    # THEN receive + delete calls per message stay within a quarter
    per_message = (calls.get("ReceiveMessage", 0) + calls.get("DeleteMessageBatch", 0)) / 400
    assert per_message <= 0.25, calls
    assert calls.get("DeleteMessage", 0) == 0
    assert sorted(handled) == list(range(400))


async def test_a_delete_that_sqs_failed_on_its_side_is_sent_again(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN a broker whose first DeleteMessageBatch loses one entry server-side
    queue = await make_queue()
    broker, counter = await make_broker()
    client = broker._given_client
    injected: dict[str, str] = {}
    sent_handles: list[list[str]] = []

    def drop_first_entry(params: dict[str, Any], **_: Any) -> None:
        sent_handles.append([entry["ReceiptHandle"] for entry in params["Entries"]])
        if not injected:
            entry = params["Entries"].pop(0)
            injected["id"] = entry["Id"]

    def report_it_failed(parsed: dict[str, Any], **_: Any) -> None:
        if injected and not injected.get("reported"):
            injected["reported"] = "yes"
            parsed.setdefault("Failed", []).append(
                {"Id": injected["id"], "SenderFault": False, "Code": "InternalError"}
            )

    client.meta.events.register("provide-client-params.sqs.DeleteMessageBatch", drop_first_entry)
    client.meta.events.register("after-call.sqs.DeleteMessageBatch", report_it_failed)
    handled: list[int] = []

    @broker.subscriber(queue.name, max_workers=4, wait_time_s=1, visibility_timeout_s=60)
    async def handle(item: Item) -> None:
        handled.append(item.n)

    await preload(sqs, queue.url, [Item(group="-", n=n) for n in range(5)])

    async def all_deleted() -> bool:
        return await queue_counts(sqs, queue.url) == (0, 0)

    async with running(broker):
        await wait_until(lambda: len(handled) == 5, 10, what="5 handled")
        # WHEN the batcher has retried: everything is gone long before the 60 s visibility
        await wait_until(all_deleted, 10, what="all deleted")

    # THEN the dropped handle was sent in a later batch, and nothing was handled twice
    dropped = sent_handles[0][0]
    assert any(dropped in later for later in sent_handles[1:])
    assert counter.calls["DeleteMessageBatch"] >= 2
    assert sorted(handled) == list(range(5))


async def test_nack_with_a_delay_makes_the_message_visible_again_after_about_that_long(
    make_queue: QueueFactory, make_broker: Any
) -> None:
    # GIVEN a handler that nacks the first delivery for 2 s
    queue = await make_queue()
    broker, _ = await make_broker()
    seen: list[tuple[int, float]] = []

    @broker.subscriber(queue.name, wait_time_s=1)
    async def handle(item: Item, msg: SQSMessage) -> None:
        seen.append((msg.receive_count, time.monotonic()))
        if msg.receive_count == 1:
            await msg.nack(delay_s=2)

    async with running(broker) as br:
        await br.publish(Item(group="-", n=1), queue=queue.name)
        # WHEN it comes back
        await wait_until(lambda: len(seen) == 2, 10, what="redelivery")

    # THEN about 2 s later (moto's long poll adds up to a second)
    (first, t1), (second, t2) = seen
    assert (first, second) == (1, 2)
    assert 1.9 <= t2 - t1 <= 3.5
