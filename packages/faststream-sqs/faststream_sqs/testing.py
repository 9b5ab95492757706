"""TestSQSBroker: run SQSBroker's handlers in memory, without SQS, like FastStream's TestBrokers.

Publishing builds the message SQS would deliver (body, String message attributes, the
system attributes of a first receive) and hands it straight to the subscriber of that
queue; settlements are recorded on the delivered message. What needs a queue's attributes
is not checked in memory: dedup ids (content-based deduplication is a queue attribute) and
the redrive policy (`last_receive` is always False).
"""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, overload
from unittest import mock
from unittest.mock import MagicMock

from faststream._internal.testing.broker import EnterType, TestBroker, change_producer
from faststream.exceptions import StopConsume
from typing_extensions import override

from faststream_sqs.broker.broker import SQSBroker
from faststream_sqs.helpers import chunks
from faststream_sqs.logs import EventLog
from faststream_sqs.publisher.batch import (
    OutgoingEntry,
    SQSMessageSizeError,
    SQSPublishBatchResult,
    SQSSentEntry,
    check_before_sending,
    too_large,
)
from faststream_sqs.publisher.producer import SQSProducer, build_entries
from faststream_sqs.queue import QueueInfo, is_fifo_name, queue_name_of
from faststream_sqs.settlement import ReceivedMessage, RejectPolicy, Settlement, log_rejection
from faststream_sqs.subscriber.usecase import SQSSubscriber

if TYPE_CHECKING:
    from faststream_sqs.publisher.usecase import SQSPublisher
    from faststream_sqs.response import SQSPublishCommand

__all__ = ("TestSQSBroker",)

_sequence = itertools.count(1)


def wire_message(entry: OutgoingEntry, *, message_id: str | None = None) -> dict[str, Any]:
    """The ReceiveMessage entry SQS would deliver for `entry` on its first receive."""
    now_ms = str(int(time.time() * 1000))
    system = {
        "SenderId": "AIDATESTSQSBROKER",
        "SentTimestamp": now_ms,
        "ApproximateReceiveCount": "1",
        "ApproximateFirstReceiveTimestamp": now_ms,
    }
    if entry.message_group_id is not None:
        system["MessageGroupId"] = entry.message_group_id
        system["SequenceNumber"] = str(next(_sequence))
    if entry.message_deduplication_id is not None:
        system["MessageDeduplicationId"] = entry.message_deduplication_id
    data: dict[str, Any] = {
        "MessageId": message_id or str(uuid.uuid4()),
        "ReceiptHandle": uuid.uuid4().hex,
        "MD5OfBody": hashlib.md5(entry.body.encode(), usedforsecurity=False).hexdigest(),
        "Body": entry.body,
        "Attributes": system,
    }
    if entry.attributes:
        data["MessageAttributes"] = entry.message_attributes()
    return data


class MemorySettler:
    """Settles in memory: the message's `settlement` says what happened; reasons are kept."""

    def __init__(self, *, reject: RejectPolicy, log: EventLog | None = None) -> None:
        self.reject_policy = reject
        self._log = log or EventLog()
        self.reject_reasons: dict[str, str] = {}
        self.visibility: dict[str, int] = {}

    async def ack(self, message: ReceivedMessage) -> None:
        pass

    async def change_visibility(self, message: ReceivedMessage, timeout_s: int) -> None:
        self.visibility[message.message_id] = timeout_s

    async def reject(self, message: ReceivedMessage, reason: str) -> None:
        log_rejection(message, policy=self.reject_policy, reason=reason, log=self._log)
        self.reject_reasons[message.message_id] = reason

    async def release_many(self, messages: Sequence[ReceivedMessage]) -> None:
        for message in messages:
            if message.settlement is None:
                message.settlement = Settlement.RELEASED
                self.visibility[message.message_id] = 0


class FakeSQSProducer(SQSProducer):
    """Delivers published messages to the broker's subscribers of the same queue."""

    def __init__(
        self,
        broker: SQSBroker,
        deliveries: list[ReceivedMessage],
        *,
        peers: Sequence[SQSBroker] = (),
    ) -> None:
        super().__init__(parser=broker._parser, decoder=broker._decoder)
        self._broker = broker
        # The other brokers the same TestSQSBroker patches: their queues are reachable too.
        self._peers = [peer for peer in peers if peer is not broker]
        self.deliveries = deliveries
        self.codec = broker.config.broker_codec or self.codec
        self.serializer = broker.config.fd_config._serializer

    def _subscriber_of(self, queue: str) -> SQSSubscriber | None:
        """The running subscriber of `queue`: this broker's first, then its peers'."""
        name = queue_name_of(queue)
        for broker in (self._broker, *self._peers):
            for subscriber in broker.subscribers:
                if (
                    isinstance(subscriber, SQSSubscriber)
                    and subscriber.running
                    and queue_name_of(subscriber.queue) == name
                ):
                    return subscriber
        return None

    async def _deliver(self, queue: str, entry: OutgoingEntry) -> str:
        data = wire_message(entry)
        subscriber = self._subscriber_of(queue)
        if subscriber is not None:
            name = queue_name_of(queue)
            message = ReceivedMessage(
                data=data,
                queue=QueueInfo(name=name, url=f"memory://{name}", fifo=is_fifo_name(name)),
                settler=MemorySettler(reject=subscriber.config.reject, log=subscriber.event_log),
            )
            self.deliveries.append(message)
            try:
                await subscriber.process_message(message)
            except StopConsume:
                # As on SQS: the subscriber stops; nothing more reaches it.
                await subscriber.stop()
            finally:
                await subscriber.settle_leftover(message)
        return str(data["MessageId"])

    @override
    async def publish(self, cmd: SQSPublishCommand) -> str:
        """Check it as SQS would, then hand it to the queue's subscriber."""
        entries = await build_entries(
            cmd, codec=self.codec, serializer=self.serializer, single=True
        )
        check_before_sending(cmd.destination, entries)
        (entry,) = entries
        info = QueueInfo(name=queue_name_of(cmd.destination), url="", fifo=False)
        if (failure := too_large(entry, info.maximum_message_size)) is not None:
            raise SQSMessageSizeError(failure.message)
        return await self._deliver(cmd.destination, entry)

    @override
    async def publish_batch(self, cmd: SQSPublishCommand) -> SQSPublishBatchResult:
        """Deliver every entry in order; all count as sent."""
        entries = await build_entries(cmd, codec=self.codec, serializer=self.serializer)
        check_before_sending(cmd.destination, entries)
        sent = [
            SQSSentEntry(index=entry.index, message_id=await self._deliver(cmd.destination, entry))
            for entry in entries
        ]
        return SQSPublishBatchResult(sent=sent, calls=len(chunks(entries)))


class TestSQSBroker(TestBroker[SQSBroker, EnterType], broker=SQSBroker):
    """Patches an SQSBroker to run its handlers in memory.

    Usage::

        async with TestSQSBroker(broker) as br:
            await br.publish({"n": 1}, queue="jobs.fifo", message_group_id="g",
                             message_deduplication_id="d1")
            handler.mock.assert_called_once_with({"n": 1})

    Every delivered message is kept in `deliveries`, its `settlement` telling whether it
    was acked, released or rejected.
    """

    @overload
    def __init__(
        self: TestSQSBroker[SQSBroker],
        broker: SQSBroker,
        /,
        *,
        with_real: bool = False,
        connect_only: bool | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: TestSQSBroker[tuple[SQSBroker, ...]],
        *brokers: SQSBroker,
        with_real: bool = False,
        connect_only: bool | None = None,
    ) -> None: ...

    def __init__(
        self,
        *brokers: SQSBroker,
        with_real: bool = False,
        connect_only: bool | None = None,
    ) -> None:
        super().__init__(*brokers, with_real=with_real, connect_only=connect_only)
        self.deliveries: list[ReceivedMessage] = []

    @override
    def create_publisher_fake_subscriber(
        self,
        broker: SQSBroker,
        publisher: SQSPublisher,
    ) -> tuple[SQSSubscriber, bool]:
        """The subscriber of the publisher's queue (on any broker patched here, its own
        first), or a fake one to record what it sends."""
        name = queue_name_of(publisher.queue)
        for owner in (broker, *(other for other in self.brokers if other is not broker)):
            for subscriber in owner.subscribers:
                if (
                    isinstance(subscriber, SQSSubscriber)
                    and queue_name_of(subscriber.queue) == name
                ):
                    return subscriber, True
        return broker.subscriber(publisher.queue, persistent=False), False

    @contextmanager
    def _patch_producer(self, broker: SQSBroker) -> Generator[None, None, None]:
        producer = FakeSQSProducer(broker, self.deliveries, peers=self.brokers)
        with (
            change_producer(broker.config.broker_config, producer),
            mock.patch.object(broker.config.broker_config, "in_memory", True),
        ):
            yield

    @override
    async def _fake_connect(  # type: ignore[override]
        self, broker: SQSBroker, *args: Any, **kwargs: Any
    ) -> MagicMock:
        return MagicMock()
