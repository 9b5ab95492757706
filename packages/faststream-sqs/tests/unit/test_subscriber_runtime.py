"""A started SQSSubscriber against a scripted SQS fake: repeats, late batches, the drain.

The fake answers ReceiveMessage with the batches a test feeds it, so a test can hand the
subscriber exactly what a real queue might: the same message twice, a group's later
messages while it still works on earlier ones.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import pytest
from pydantic import BaseModel
from sqs_logs import capture_logs

from faststream_sqs import SQSBroker


class Item(BaseModel):
    n: int


class ScriptedSQS:
    """Just enough of an SQS client for one subscriber; receives come from `feed()`."""

    def __init__(self, *, fifo: bool) -> None:
        self.fifo = fifo
        self._batches: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        self.calls: dict[str, list[Any]] = defaultdict(list)

    def feed(self, *messages: dict[str, Any]) -> None:
        self._batches.put_nowait(list(messages))

    async def get_queue_url(self, *, QueueName: str) -> Any:
        return {"QueueUrl": f"https://sqs.local/1/{QueueName}"}

    async def get_queue_attributes(self, **_: Any) -> Any:
        return {"Attributes": {"FifoQueue": str(self.fifo).lower(), "VisibilityTimeout": "30"}}

    async def receive_message(self, *, WaitTimeSeconds: int, **_: Any) -> Any:
        try:
            batch = await asyncio.wait_for(self._batches.get(), WaitTimeSeconds)
        except TimeoutError:
            return {}
        return {"Messages": batch}

    async def delete_message_batch(self, *, Entries: list[dict[str, str]], **_: Any) -> Any:
        self.calls["delete"].extend(e["ReceiptHandle"] for e in Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    async def change_message_visibility_batch(self, *, Entries: list[Any], **_: Any) -> Any:
        self.calls["visibility"].extend(
            (e["ReceiptHandle"], e["VisibilityTimeout"]) for e in Entries
        )
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    async def change_message_visibility(self, **kwargs: Any) -> Any:
        self.calls["visibility"].append((kwargs["ReceiptHandle"], kwargs["VisibilityTimeout"]))
        return {}


def sqs_message(n: int, handle: str, *, group: str | None = None, count: int = 1) -> dict[str, Any]:
    attributes = {"ApproximateReceiveCount": str(count), "SentTimestamp": "0"}
    if group is not None:
        attributes["MessageGroupId"] = group
    return {
        "MessageId": f"m{n}",
        "ReceiptHandle": handle,
        "Body": Item(n=n).model_dump_json(),
        "Attributes": attributes,
    }


async def until(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


@pytest.fixture
def release_handlers() -> asyncio.Event:
    return asyncio.Event()


async def test_a_message_delivered_again_while_held_is_handled_once_and_deleted_by_its_newer_handle(
    release_handlers: asyncio.Event,
) -> None:
    sqs = ScriptedSQS(fifo=False)
    broker = SQSBroker(client=sqs, logger=None)  # type: ignore[arg-type]
    handled: list[int] = []

    @broker.subscriber("q", wait_time_s=1)
    async def handle(item: Item) -> None:
        handled.append(item.n)
        await release_handlers.wait()

    await broker.start()
    try:
        sqs.feed(sqs_message(1, "rh1"))
        await until(lambda: handled == [1])
        with capture_logs() as logs:
            sqs.feed(sqs_message(1, "rh1-again", count=2))
            await until(lambda: logs)
        release_handlers.set()
        await until(lambda: sqs.calls["delete"])
    finally:
        await broker.stop()
    assert handled == [1]
    assert sqs.calls["delete"] == ["rh1-again"]
    assert logs[0]["event"] == "duplicate_delivery"
    assert logs[0]["outcome"] == "kept_newer_handle"


async def test_a_message_delivered_again_after_it_was_deleted_is_deleted_again_not_handled() -> (
    None
):
    sqs = ScriptedSQS(fifo=False)
    broker = SQSBroker(client=sqs, logger=None)  # type: ignore[arg-type]
    handled: list[int] = []

    @broker.subscriber("q", wait_time_s=1)
    async def handle(item: Item) -> None:
        handled.append(item.n)

    await broker.start()
    try:
        sqs.feed(sqs_message(2, "rh2"))
        await until(lambda: sqs.calls["delete"] == ["rh2"])
        sqs.feed(sqs_message(2, "rh2-late", count=2))
        await until(lambda: sqs.calls["delete"] == ["rh2", "rh2-late"])
    finally:
        await broker.stop()
    assert handled == [2]


async def test_a_later_batch_of_a_group_in_progress_waits_behind_it(
    release_handlers: asyncio.Event,
) -> None:
    sqs = ScriptedSQS(fifo=True)
    broker = SQSBroker(client=sqs, logger=None)  # type: ignore[arg-type]
    order: list[int] = []

    @broker.subscriber("q.fifo", max_workers=4, wait_time_s=1)
    async def handle(item: Item) -> None:
        order.append(item.n)
        if item.n == 1:
            await release_handlers.wait()

    await broker.start()
    try:
        sqs.feed(sqs_message(1, "a", group="g"), sqs_message(2, "b", group="g"))
        await until(lambda: order == [1])
        sqs.feed(sqs_message(3, "c", group="g"), sqs_message(10, "x", group="other"))
        await until(lambda: 10 in order)
        assert order == [1, 10]  # the other group ran; g's later batch waited
        release_handlers.set()
        await until(lambda: len(order) == 4)
    finally:
        await broker.stop()
    assert order == [1, 10, 2, 3]


async def test_stopping_releases_unstarted_messages_and_what_a_late_receive_brings(
    release_handlers: asyncio.Event,
) -> None:
    sqs = ScriptedSQS(fifo=True)
    broker = SQSBroker(client=sqs, logger=None, graceful_timeout=5)  # type: ignore[arg-type]
    order: list[int] = []

    @broker.subscriber("q.fifo", wait_time_s=1)
    async def handle(item: Item) -> None:
        order.append(item.n)
        await release_handlers.wait()

    await broker.start()
    sqs.feed(sqs_message(1, "a", group="g"), sqs_message(2, "b", group="g"))
    await until(lambda: order == [1])
    stopping = asyncio.create_task(broker.stop())
    await until(lambda: ("b", 0) in sqs.calls["visibility"])
    sqs.feed(sqs_message(3, "c", group="h"))  # a long poll on the wire answers late
    await until(lambda: ("c", 0) in sqs.calls["visibility"])
    assert not stopping.done()  # the running handler is still let finish
    release_handlers.set()
    await stopping
    assert order == [1]
    assert sqs.calls["delete"] == ["a"]
