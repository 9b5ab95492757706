"""SQSMessage from the wire format: its fields, settle-once, and the decode step."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.message import AckStatus

from faststream_sqs.parser import SQSDecodeError, SQSParser, string_attributes
from faststream_sqs.queue import QueueInfo
from faststream_sqs.settlement import ReceivedMessage, Settlement, visibility_seconds


class RecordingSettler:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def ack(self, message: ReceivedMessage) -> None:
        self.calls.append(("ack", message.message_id))

    async def change_visibility(self, message: ReceivedMessage, timeout_s: int) -> None:
        self.calls.append(("visibility", timeout_s))

    async def reject(self, message: ReceivedMessage, reason: str) -> None:
        self.calls.append(("reject", reason))

    async def release_many(self, messages: Sequence[ReceivedMessage]) -> None:
        self.calls.append(("release", len(messages)))


def wire(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "Body": '{"n": 1}',
        "Attributes": {
            "SentTimestamp": "1795442573950",
            "ApproximateReceiveCount": "3",
            "MessageGroupId": "track-1",
            "MessageDeduplicationId": "req-1",
        },
        "MessageAttributes": {
            "type": {"DataType": "String", "StringValue": "allocate"},
            "content-type": {"DataType": "String", "StringValue": "application/json"},
            "correlation_id": {"DataType": "String", "StringValue": "corr-1"},
            "size": {"DataType": "Number", "StringValue": "42"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00"},
        },
    }
    data.update(overrides)
    return data


def received(
    data: dict[str, Any], *, max_receive_count: int | None = None
) -> tuple[ReceivedMessage, RecordingSettler]:
    settler = RecordingSettler()
    queue = QueueInfo(name="q.fifo", url="u", fifo=True, max_receive_count=max_receive_count)
    return ReceivedMessage(data=data, queue=queue, settler=settler), settler


async def test_fields_come_from_the_receive_message_entry() -> None:
    message = await SQSParser().parse_message(received(wire(), max_receive_count=5)[0])

    assert message.message_id == "m-1"
    assert message.receipt_handle == "rh-1"
    assert message.message_group_id == "track-1"
    assert message.message_deduplication_id == "req-1"
    assert message.receive_count == 3
    assert message.sent_timestamp == datetime.fromtimestamp(1795442573.950, tz=UTC)
    assert message.attributes == {
        "type": "allocate",
        "content-type": "application/json",
        "correlation_id": "corr-1",
        "size": "42",
    }
    assert message.correlation_id == "corr-1"
    assert message.content_type == "application/json"
    assert message.queue == "q.fifo"
    assert message.max_receive_count == 5
    assert message.last_receive is False


@pytest.mark.parametrize(
    ("count", "limit", "last"),
    [("4", 5, False), ("5", 5, True), ("6", 5, True), ("9", None, False)],
)
async def test_last_receive_is_the_receive_sqs_dead_letters_after(
    count: str, limit: int | None, last: bool
) -> None:
    data = wire(Attributes={"ApproximateReceiveCount": count})
    message = await SQSParser().parse_message(received(data, max_receive_count=limit)[0])
    assert message.last_receive is last


async def test_a_message_is_settled_once_the_first_decision_stands() -> None:
    raw, settler = received(wire())
    message = await SQSParser().parse_message(raw)

    await message.nack(delay_s=2.2)
    await message.ack()
    await message.reject()

    assert settler.calls == [("visibility", 3)]
    assert raw.settlement is Settlement.RELEASED
    assert message.committed is AckStatus.NACKED


async def test_reject_passes_its_reason_to_the_policy() -> None:
    raw, settler = received(wire())
    message = await SQSParser().parse_message(raw)
    await message.reject("no such track")
    assert settler.calls == [("reject", "no such track")]
    assert message.committed is AckStatus.REJECTED


@pytest.mark.parametrize(
    ("delay", "seconds"), [(0, 0), (0.1, 1), (2, 2), (2.5, 3), (-1, 0), (10**9, 43_200)]
)
def test_nack_delays_become_whole_seconds_within_sqs_limits(delay: float, seconds: int) -> None:
    assert visibility_seconds(delay) == seconds


async def test_a_body_not_in_its_declared_json_is_a_decode_error() -> None:
    parser = SQSParser()
    good = await parser.parse_message(received(wire())[0])
    assert await parser.decode_message(good) == {"n": 1}
    bad = await parser.parse_message(received(wire(Body="{nope"))[0])
    with pytest.raises(SQSDecodeError, match="JSONDecodeError"):
        await parser.decode_message(bad)


async def test_a_body_without_content_type_decodes_as_json_or_stays_bytes() -> None:
    parser = SQSParser()
    plain = await parser.parse_message(received(wire(MessageAttributes={}))[0])
    assert await parser.decode_message(plain) == {"n": 1}
    text = await parser.parse_message(received(wire(MessageAttributes={}, Body="hi"))[0])
    assert await parser.decode_message(text) == b"hi"


def test_binary_attributes_are_left_out_of_the_string_view() -> None:
    attributes = json.loads(json.dumps(wire()["MessageAttributes"], default=str))
    assert "blob" not in string_attributes(attributes)
