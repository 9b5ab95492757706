"""SQSSettler: a subscriber's ack / nack / release / reject as SQS calls."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from faststream_sqs.helpers import chunks
from faststream_sqs.logs import EventLog
from faststream_sqs.settlement import Settlement, log_rejection

if TYPE_CHECKING:
    from collections.abc import Sequence

    from types_aiobotocore_sqs import SQSClient

    from faststream_sqs.acks import AckBatcher
    from faststream_sqs.heartbeat import Heartbeat
    from faststream_sqs.queue import QueueInfo
    from faststream_sqs.settlement import ReceivedMessage, RejectPolicy

# The message attribute a dead-lettered message carries to say why it was rejected.
REJECT_REASON_ATTRIBUTE = "x-reject-reason"
# SQS message attributes per message; a message already at the limit keeps its own.
_MAX_ATTRIBUTES = 10
_MAX_REASON_LENGTH = 256
# reject="redrive" on a queue without a redrive policy: SQS would deliver the message again
# at once, forever (a hot loop). It comes back after 2^receive_count seconds instead,
# up to this cap.
MAX_REDRIVE_BACKOFF_S = 900


def redrive_delay_s(queue: QueueInfo, receive_count: int) -> int:
    """Visibility of a rejected message under reject="redrive": 0 when SQS dead-letters it
    by maxReceiveCount, a growing backoff when the queue has no redrive policy."""
    if queue.max_receive_count is not None:
        return 0
    exponent: int = min(max(receive_count, 1), 10)
    return min(1 << exponent, MAX_REDRIVE_BACKOFF_S)


class SQSSettler:
    """Settles one subscriber's messages: deletes batched, visibility changes direct."""

    def __init__(
        self,
        client: SQSClient,
        *,
        queue: QueueInfo,
        acks: AckBatcher,
        heartbeat: Heartbeat,
        reject: RejectPolicy,
        dead_letter_queue: QueueInfo | None = None,
        log: EventLog | None = None,
    ) -> None:
        self._client = client
        self._log = log or EventLog()
        self._queue = queue
        self._acks = acks
        self._heartbeat = heartbeat
        self._reject = reject
        self._dead_letter_queue = dead_letter_queue

    async def ack(self, message: ReceivedMessage) -> None:
        """Stop renewing it and queue its delete."""
        self._heartbeat.forget_now(message)
        self._acks.add(message.receipt_handle)

    async def change_visibility(self, message: ReceivedMessage, timeout_s: int) -> None:
        """ChangeMessageVisibility, after any renewal of it on the wire."""
        await self._heartbeat.forget(message)
        try:
            await self._client.change_message_visibility(
                QueueUrl=self._queue.url,
                ReceiptHandle=message.receipt_handle,
                VisibilityTimeout=timeout_s,
            )
        except Exception as exc:
            # It reappears when its current visibility lapses: later, never lost.
            self._log.warning(
                "visibility_change_failed",
                queue=self._queue.name,
                message_id=message.message_id,
                error=repr(exc),
            )

    async def release_many(self, messages: Sequence[ReceivedMessage]) -> None:
        """Make unsettled messages visible again at once (ChangeMessageVisibilityBatch 0)."""
        releasing = [message for message in messages if message.settlement is None]
        for message in releasing:
            message.settlement = Settlement.RELEASED
        await asyncio.gather(*(self._heartbeat.forget(message) for message in releasing))
        await asyncio.gather(*(self._release_batch(batch) for batch in chunks(releasing)))

    async def _release_batch(self, messages: list[ReceivedMessage]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": message.receipt_handle, "VisibilityTimeout": 0}
            for i, message in enumerate(messages)
        ]
        try:
            response = await self._client.change_message_visibility_batch(
                QueueUrl=self._queue.url,
                Entries=entries,  # type: ignore[arg-type]
            )
        except Exception as exc:
            self._log.warning(
                "release_failed", queue=self._queue.name, count=len(messages), error=repr(exc)
            )
            return
        for failed in response.get("Failed", []):
            self._log.warning(
                "release_failed",
                queue=self._queue.name,
                message_id=messages[int(failed["Id"])].message_id,
                code=failed.get("Code"),
            )

    async def reject(self, message: ReceivedMessage, reason: str) -> None:
        """Log it, then redrive (visibility 0), dead-letter (then delete) or delete it."""
        log_rejection(message, policy=self._reject, reason=reason, log=self._log)
        if self._reject == "delete":
            await self.ack(message)
        elif self._reject == "dlq" and self._dead_letter_queue is not None:
            await self._dead_letter(message, self._dead_letter_queue, reason)
        else:
            await self.change_visibility(
                message, redrive_delay_s(self._queue, message.receive_count)
            )

    async def _dead_letter(self, message: ReceivedMessage, dlq: QueueInfo, reason: str) -> None:
        arguments: dict[str, Any] = {
            "QueueUrl": dlq.url,
            "MessageBody": message.data.get("Body", ""),
        }
        attributes = {
            name: {
                key: value
                for key, value in attribute.items()
                if key in ("DataType", "StringValue", "BinaryValue")
            }
            for name, attribute in message.data.get("MessageAttributes", {}).items()
        }
        if len(attributes) < _MAX_ATTRIBUTES:
            attributes[REJECT_REASON_ATTRIBUTE] = {
                "DataType": "String",
                "StringValue": reason[:_MAX_REASON_LENGTH],
            }
        if attributes:
            arguments["MessageAttributes"] = attributes
        if dlq.fifo:
            arguments["MessageGroupId"] = message.message_group_id or "default"
            # A fresh id: a replayed message rejected again must reach the DLQ again.
            arguments["MessageDeduplicationId"] = uuid.uuid4().hex
        try:
            await self._client.send_message(**arguments)
        except Exception as exc:
            # Not in the DLQ, so not deleted either: it comes back and is rejected again.
            self._log.error(
                "dead_letter_failed",
                queue=self._queue.name,
                dead_letter_queue=dlq.name,
                message_id=message.message_id,
                error=repr(exc),
            )
            await self.change_visibility(message, 0)
            return
        await self.ack(message)
