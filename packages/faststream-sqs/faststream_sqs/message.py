"""SQSMessage: what a handler sees, with ack / nack(delay) / reject mapped onto SQS."""

from __future__ import annotations

from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Annotated

from faststream._internal.context import Context
from faststream.message import StreamMessage

from faststream_sqs.settlement import ReceivedMessage, Settlement


class SQSMessage(StreamMessage[ReceivedMessage]):
    """A message received from an SQS queue.

    `ack()` deletes it (batched), `nack(delay_s)` makes it visible again after `delay_s`
    seconds, `reject()` applies the subscriber's reject policy. The first of these wins;
    later calls do nothing.
    """

    @property
    def queue(self) -> str:
        """The name of the queue the message came from."""
        return self.raw_message.queue.name

    @property
    def receipt_handle(self) -> str:
        return self.raw_message.receipt_handle

    @property
    def message_group_id(self) -> str | None:
        return self.raw_message.message_group_id

    @property
    def message_deduplication_id(self) -> str | None:
        return self.raw_message.message_deduplication_id

    @property
    def receive_count(self) -> int:
        """ApproximateReceiveCount: 1 on the first delivery."""
        return self.raw_message.receive_count

    @property
    def sent_timestamp(self) -> datetime | None:
        """When SQS accepted the message (SentTimestamp), in UTC."""
        millis = self.raw_message.system_attributes.get("SentTimestamp")
        if millis is None:
            return None
        return datetime.fromtimestamp(int(millis) / 1000, tz=UTC)

    @property
    def attributes(self) -> dict[str, str]:
        """The message attributes, as strings."""
        return {key: str(value) for key, value in self.headers.items()}

    @property
    def max_receive_count(self) -> int | None:
        """The queue's RedrivePolicy maxReceiveCount; None without a redrive policy."""
        return self.raw_message.queue.max_receive_count

    @property
    def last_receive(self) -> bool:
        """True when SQS will dead-letter the message instead of delivering it again.

        An application can answer "dead-lettered" now, while it still holds the message.
        """
        limit = self.max_receive_count
        return limit is not None and self.receive_count >= limit

    @property
    def settlement(self) -> Settlement | None:
        """What was decided for the message so far: acked, released, rejected or nothing."""
        return self.raw_message.settlement

    @property
    def settled(self) -> bool:
        """Acked, nacked or rejected already (here, or by the subscriber at shutdown)."""
        return self.committed is not None or self.raw_message.settled

    async def ack(self) -> None:
        """Delete the message (batched DeleteMessageBatch)."""
        if not self.committed:
            await self.raw_message.ack()
        await super().ack()

    async def nack(self, delay_s: float = 0) -> None:
        """Make it visible again after `delay_s` seconds (ChangeMessageVisibility)."""
        if not self.committed:
            await self.raw_message.nack(delay_s)
        await super().nack()

    async def reject(self, reason: str = "rejected") -> None:
        """Apply the subscriber's reject policy; `reason` reaches a DLQ as x-reject-reason."""
        if not self.committed:
            await self.raw_message.reject(reason)
        await super().reject()


MESSAGE_ANNOTATION = Annotated[SQSMessage, Context("message")]
"""How a handler asks for the message (`faststream_sqs.annotations.SQSMessage`)."""

_current: ContextVar[SQSMessage | None] = ContextVar("faststream_sqs_message", default=None)


def current_message() -> SQSMessage:
    """The message the running handler was called with, without a handler argument.

    A `Context` argument costs fast_depends a thread hop per message; this is a plain
    ContextVar set by the subscriber around the handler call. LookupError outside one.
    """
    message = _current.get()
    if message is None:
        msg = "current_message() is only set while an SQS handler runs"
        raise LookupError(msg)
    return message


def set_current_message(message: SQSMessage) -> Token[SQSMessage | None]:
    """Set by the subscriber's innermost middleware around each handler call."""
    return _current.set(message)


def reset_current_message(token: Token[SQSMessage | None]) -> None:
    _current.reset(token)
