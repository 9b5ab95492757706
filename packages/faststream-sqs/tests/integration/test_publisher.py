"""Publishing on moto: FIFO ids checked before any call, batches packed, every entry reported."""

from __future__ import annotations

from typing import Any

import pytest
from sqs_moto import QueueFactory, drain

from faststream_sqs import (
    SQSDeduplicationError,
    SQSMessageGroupError,
    SQSPublishBatchError,
    SQSPublishError,
)

pytestmark = pytest.mark.integration


async def test_fifo_without_a_group_id_fails_before_any_call(
    make_queue: QueueFactory, make_broker: Any
) -> None:
    queue = await make_queue(fifo=True)
    broker, counter = await make_broker()
    await broker.connect()
    try:
        with pytest.raises(SQSMessageGroupError, match="FIFO"):
            await broker.publish({"n": 1}, queue=queue.name, message_deduplication_id="d")
        with pytest.raises(SQSMessageGroupError, match="FIFO"):
            await broker.publish_batch({"n": 1}, queue=queue.url, message_deduplication_id="d")
    finally:
        await broker.stop()
    assert sum(counter.calls.values()) == 0


async def test_fifo_needs_a_dedup_id_unless_the_queue_deduplicates_by_content(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    plain = await make_queue(fifo=True)
    by_content = await make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    broker, counter = await make_broker()
    await broker.connect()
    try:
        with pytest.raises(SQSDeduplicationError, match="message_deduplication_id"):
            await broker.publish({"n": 1}, queue=plain.name, message_group_id="g")
        assert counter.calls["SendMessage"] == 0
        message_id = await broker.publish({"n": 1}, queue=by_content.name, message_group_id="g")
    finally:
        await broker.stop()
    (sent,) = await drain(sqs, by_content.url)
    assert sent["MessageId"] == message_id


async def test_publish_to_a_queue_url_with_string_attributes(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    queue = await make_queue()
    broker, _ = await make_broker()
    await broker.connect()
    try:
        await broker.publish("hello", queue=queue.url, attributes={"type": "allocate"})
        with pytest.raises(SQSPublishError, match="at most 10"):
            await broker.publish("x", queue=queue.url, attributes={f"a{i}": "v" for i in range(10)})
    finally:
        await broker.stop()
    (sent,) = await drain(sqs, queue.url)
    assert sent["Body"] == "hello"
    attributes = sent["MessageAttributes"]
    assert attributes["type"] == {"StringValue": "allocate", "DataType": "String"}
    assert {value["DataType"] for value in attributes.values()} == {"String"}


async def test_publish_batch_packs_ten_entries_per_call(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    queue = await make_queue(fifo=True)
    broker, counter = await make_broker()
    await broker.connect()
    try:
        result = await broker.publish_batch(
            *[{"n": n} for n in range(25)],
            queue=queue.name,
            message_group_id="g",
            message_deduplication_id=lambda body: f"d{body['n']}",
        )
    finally:
        await broker.stop()
    assert result.ok
    assert result.calls == counter.calls["SendMessageBatch"] == 3
    assert [entry.index for entry in result.sent] == list(range(25))
    received = await drain(sqs, queue.url)
    assert [m["Body"] for m in received] == [f'{{"n":{n}}}' for n in range(25)]


async def test_publish_batch_packs_by_size_and_reports_an_entry_too_large_for_the_queue(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN a queue taking messages of at most 1 KiB, entries of ~400 bytes and one of 2 KiB
    queue = await make_queue(attributes={"MaximumMessageSize": "1024"})
    broker, counter = await make_broker()
    bodies = ["a" * 400, "b" * 400, "c" * 2048, "d" * 400, "e" * 400, "f" * 400]
    await broker.connect()
    try:
        result = await broker.publish_batch(*bodies, queue=queue.name)
        with pytest.raises(SQSPublishBatchError) as raised:
            await broker.publish_batch("g" * 2048, queue=queue.name, raise_on_failure=True)
    finally:
        await broker.stop()
    # THEN no call carried more than 1 KiB, and the large entry is reported, not dropped
    assert counter.calls["SendMessageBatch"] == result.calls == 3
    assert [entry.index for entry in result.sent] == [0, 1, 3, 4, 5]
    (too_large,) = result.failed
    assert (too_large.index, too_large.code, too_large.sender_fault) == (2, "MessageTooLong", True)
    assert [entry.index for entry in raised.value.result.failed] == [0]
    assert len(await drain(sqs, queue.url)) == 5


async def test_publish_batch_reports_entries_sqs_failed_and_calls_that_failed(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN SQS failing entry 1 of the first call, and refusing the second call outright
    queue = await make_queue()
    broker, _ = await make_broker()
    client = broker._given_client
    seen = {"calls": 0}

    def fail_one_then_the_call(params: dict[str, Any], **_: Any) -> None:
        seen["calls"] += 1
        if seen["calls"] == 1:
            params["Entries"] = [e for e in params["Entries"] if e["Id"] != "1"]
        else:
            params["QueueUrl"] = queue.url + "-missing"

    def report_entry_one(parsed: dict[str, Any], **_: Any) -> None:
        if seen["calls"] == 1:
            parsed.setdefault("Failed", []).append(
                {"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "injected"}
            )

    client.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch", fail_one_then_the_call
    )
    client.meta.events.register("after-call.sqs.SendMessageBatch", report_entry_one)
    await broker.connect()
    try:
        result = await broker.publish_batch(*[f"m{n}" for n in range(12)], queue=queue.name)
        with pytest.raises(SQSPublishBatchError) as raised:
            await broker.publish_batch("x", queue=queue.name, raise_on_failure=True)
    finally:
        await broker.stop()

    # THEN every entry is accounted for: sent, or failed with SQS's reason
    assert [entry.index for entry in result.sent] == [0, *range(2, 10)]
    assert (result.failed[0].index, result.failed[0].code) == (1, "InternalError")
    assert [entry.index for entry in result.failed] == [1, 10, 11]
    assert {entry.code for entry in result.failed[1:]} == {
        "AWS.SimpleQueueService.NonExistentQueue"
    }
    assert raised.value.result.failed[0].index == 0
    assert len(await drain(sqs, queue.url)) == 9
