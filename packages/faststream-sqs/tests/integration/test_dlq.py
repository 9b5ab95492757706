"""Dead-lettering on moto: redrive after maxReceiveCount, reject="dlq", undecodable bodies."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import BaseModel
from sqs_logs import capture_logs
from sqs_moto import (
    QueueFactory,
    drain,
    queue_counts,
    running,
    wait_until,
)

from faststream_sqs import SQSQueueConfigError
from faststream_sqs.annotations import SQSMessage

pytestmark = pytest.mark.integration


class Item(BaseModel):
    n: int


async def visible(sqs: Any, url: str) -> int:
    return (await queue_counts(sqs, url))[0]


async def send(sqs: Any, url: str, body: str, *, group: str = "g", **attributes: str) -> None:
    await sqs.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=uuid.uuid4().hex,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    )


async def test_a_failing_message_reaches_the_dlq_after_max_receive_count(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN a FIFO queue dead-lettering after 2 receives, and a handler that always fails
    queue = await make_queue(fifo=True, max_receive_count=2)
    assert queue.dlq_url is not None
    broker, _ = await make_broker()
    deliveries: list[tuple[int, bool]] = []

    # A failure redrives at once (visibility 0), so the visibility timeout does not pace
    # this test; 30 s only has to outlast the machine's stalls. [(1, False)] under load was
    # the scheduler: the second receive joined the group while the first delivery was
    # still unwinding, and was released unhandled as a "group-mate" of its own failure;
    # SQS then dead-lettered it on the third receive (grouping.py now releases only what
    # was held behind the failed message; test_grouping.py has the deterministic case).
    @broker.subscriber(queue.name, wait_time_s=1, visibility_timeout_s=30, max_attempts=1)
    async def handle(item: Item, msg: SQSMessage) -> None:
        deliveries.append((msg.receive_count, msg.last_receive))
        raise RuntimeError("always")

    async with running(broker) as br:
        await br.publish(
            Item(n=1), queue=queue.name, message_group_id="track-1", message_deduplication_id="d1"
        )
        # WHEN SQS has redriven it
        await wait_until(lambda: visible(sqs, queue.dlq_url), 15, what="message in the DLQ")

    # THEN it was delivered exactly maxReceiveCount times, the last one flagged as such
    assert deliveries == [(1, False), (2, True)]
    (dead,) = await drain(sqs, queue.dlq_url)
    assert dead["Body"] == Item(n=1).model_dump_json()
    assert dead["Attributes"]["MessageGroupId"] == "track-1"
    assert await queue_counts(sqs, queue.url) == (0, 0)


async def test_reject_dlq_dead_letters_at_once_keeping_body_group_and_attributes(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN reject="dlq": one undecodable body and one the handler rejects, in one group
    queue = await make_queue(fifo=True, max_receive_count=5)
    assert queue.dlq_url is not None
    broker, _ = await make_broker()
    handled: list[int] = []

    @broker.subscriber(queue.name, wait_time_s=1, reject="dlq")
    async def handle(item: Item, msg: SQSMessage) -> None:
        if item.n == 2:
            await msg.reject("business said no")
            return
        handled.append(item.n)

    await send(sqs, queue.url, '{"n": 1}', group="t1")
    await send(sqs, queue.url, '{"n": "x"}', group="t1", type="allocate")
    await send(sqs, queue.url, '{"n": 2}', group="t1")
    await send(sqs, queue.url, '{"n": 3}', group="t1")

    async with running(broker):
        # WHEN the group has been worked through
        await wait_until(lambda: handled == [1, 3], 10, what="1 and 3 handled")
        await wait_until(lambda: visible(sqs, queue.dlq_url), 10, what="DLQ filled")

    # THEN both went to the DLQ at once (first receive), with the group and a reason
    dead = sorted(await drain(sqs, queue.dlq_url), key=lambda m: m["Body"])
    assert [m["Body"] for m in dead] == ['{"n": "x"}', '{"n": 2}']
    assert {m["Attributes"]["MessageGroupId"] for m in dead} == {"t1"}
    reasons = [m["MessageAttributes"]["x-reject-reason"]["StringValue"] for m in dead]
    assert reasons == ["undecodable: ValidationError", "business said no"]
    assert dead[0]["MessageAttributes"]["type"]["StringValue"] == "allocate"
    assert await queue_counts(sqs, queue.url) == (0, 0)


async def test_reject_dlq_uses_an_explicit_dlq_on_a_queue_without_redrive_policy(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    queue, dlq = await make_queue(), await make_queue()
    broker, _ = await make_broker()

    @broker.subscriber(queue.name, wait_time_s=1, reject="dlq", dlq=dlq.name)
    async def handle(item: Item) -> None:
        raise AssertionError("an undecodable body never reaches the handler")

    await sqs.send_message(QueueUrl=queue.url, MessageBody="[1, 2]")
    async with running(broker):
        await wait_until(lambda: visible(sqs, dlq.url), 10, what="explicit DLQ filled")

    (dead,) = await drain(sqs, dlq.url)
    assert dead["Body"] == "[1, 2]"


async def test_reject_dlq_without_any_dlq_fails_at_start(
    make_queue: QueueFactory, make_broker: Any
) -> None:
    queue = await make_queue()
    broker, _ = await make_broker()

    @broker.subscriber(queue.name, reject="dlq")
    async def handle(item: Item) -> None: ...

    with pytest.raises(SQSQueueConfigError, match="RedrivePolicy"):
        await broker.start()
    await broker.stop()


async def test_an_undecodable_body_under_redrive_burns_its_receives_while_its_group_goes_on(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN the default policy (redrive), maxReceiveCount 2, and a poison message
    # between two good ones of the same group
    queue = await make_queue(fifo=True, max_receive_count=2)
    assert queue.dlq_url is not None
    broker, _ = await make_broker()
    handled: list[tuple[int, int]] = []
    hooked: list[tuple[str, str]] = []

    def on_decode_error(raw: dict[str, Any], error: Exception) -> None:
        hooked.append((raw["Body"], type(error).__name__))

    @broker.subscriber(queue.name, wait_time_s=1, on_decode_error=on_decode_error)
    async def handle(item: Item, msg: SQSMessage) -> None:
        handled.append((item.n, msg.receive_count))

    await send(sqs, queue.url, '{"n": 1}')
    await send(sqs, queue.url, "{not json")
    await send(sqs, queue.url, '{"n": 2}')

    with capture_logs() as logs:
        async with running(broker):
            # WHEN it has been received maxReceiveCount times and moved
            await wait_until(lambda: visible(sqs, queue.dlq_url), 15, what="poison in DLQ")

    # THEN the handler never saw it, the good ones ran once each on their first receive,
    # the hook saw it on every receive, and every rejection left a structured line
    assert handled == [(1, 1), (2, 1)]
    assert hooked == [("{not json", "ValidationError")] * 2
    rejected = [entry for entry in logs if entry["event"] == "message_rejected"]
    assert len(rejected) == 2
    assert {entry["policy"] for entry in rejected} == {"redrive"}
    assert [entry["receive_count"] for entry in rejected] == [1, 2]
    assert all(entry["message_group"] == "g" for entry in rejected)
    assert all(entry["reason"] == "undecodable: ValidationError" for entry in rejected)
    (dead,) = await drain(sqs, queue.dlq_url)
    assert dead["Body"] == "{not json"


async def test_redrive_on_a_queue_without_redrive_policy_backs_off_instead_of_looping(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN a queue with no redrive policy and the default reject="redrive"
    queue = await make_queue()
    broker, _ = await make_broker()
    hooked: list[int] = []

    @broker.subscriber(
        queue.name, wait_time_s=1, on_decode_error=lambda raw, _: hooked.append(len(raw))
    )
    async def handle(item: Item) -> None:
        raise AssertionError("never called")

    async with running(broker):
        # WHEN a body that does not decode arrives
        await sqs.send_message(QueueUrl=queue.url, MessageBody="not json")
        await wait_until(lambda: len(hooked) == 1, 10, what="the rejection")
        # THEN it is held invisible (a backoff), not made visible again at once
        await wait_until(
            lambda: _in_flight_only(sqs, queue.url), 10, what="the message held invisible"
        )
        assert len(hooked) == 1


async def _in_flight_only(sqs: Any, url: str) -> bool:
    return await queue_counts(sqs, url) == (0, 1)
