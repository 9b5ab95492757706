"""A received SQS message and the ways it can be settled: each exactly once.

`ReceivedMessage` is what the receive loop hands to FastStream's parser: the message as
SQS returned it plus the `Settler` that turns ack / nack / reject into SQS calls.
Settling twice is a no-op (the first decision stands), as in `faststream/nats/message.py`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from faststream_sqs.logs import EventLog
    from faststream_sqs.queue import QueueInfo

RejectPolicy = Literal["redrive", "dlq", "delete"]
"""What `reject()` does with a message.

- ``redrive``: make it visible again at once (visibility 0); SQS moves it to the DLQ once
  its receive count passes the queue's maxReceiveCount. An undecodable body therefore
  burns its receives quickly and lands in the DLQ after maxReceiveCount receives.
- ``dlq``: send it to the dead-letter queue now (body, attributes and group id kept, an
  ``x-reject-reason`` attribute added, a fresh dedup id), then delete it.
- ``delete``: delete it (the data is gone).
"""

# SQS's hard limit on VisibilityTimeout / ChangeMessageVisibility, in seconds.
MAX_VISIBILITY_TIMEOUT_S = 43_200


class Settlement(StrEnum):
    """How a message was settled."""

    ACKED = "acked"
    """Deleted from the queue."""
    RELEASED = "released"
    """Visible again, now or after a delay (nack, failure, skipped, shutdown)."""
    REJECTED = "rejected"
    """Handed to the reject policy."""


class Settler(Protocol):
    """Turns settlement decisions into transport calls for one subscriber."""

    async def ack(self, message: ReceivedMessage) -> None: ...

    async def change_visibility(self, message: ReceivedMessage, timeout_s: int) -> None: ...

    async def reject(self, message: ReceivedMessage, reason: str) -> None: ...

    async def release_many(self, messages: Sequence[ReceivedMessage]) -> None: ...


def log_rejection(
    message: ReceivedMessage, *, policy: RejectPolicy, reason: str, log: EventLog
) -> None:
    """The one line every rejection leaves, whatever the policy does next."""
    log.warning(
        "message_rejected",
        queue=message.queue.name,
        message_id=message.message_id,
        message_group=message.message_group_id,
        receive_count=message.receive_count,
        policy=policy,
        reason=reason,
    )


def visibility_seconds(delay_s: float) -> int:
    """SQS takes whole seconds in [0, 12 h]; round a requested delay up into that range."""
    whole = int(-(-delay_s // 1))
    return max(0, min(whole, MAX_VISIBILITY_TIMEOUT_S))


@dataclass(eq=False, slots=True, kw_only=True)
class ReceivedMessage:
    """One message as ReceiveMessage returned it, bound to the subscriber that settles it."""

    data: dict[str, Any]
    queue: QueueInfo
    settler: Settler
    received_at: float = field(default_factory=time.monotonic)
    settlement: Settlement | None = None

    @property
    def message_id(self) -> str:
        return str(self.data["MessageId"])

    @property
    def receipt_handle(self) -> str:
        return str(self.data["ReceiptHandle"])

    @property
    def system_attributes(self) -> dict[str, str]:
        attributes: dict[str, str] = self.data.get("Attributes", {})
        return attributes

    @property
    def message_group_id(self) -> str | None:
        return self.system_attributes.get("MessageGroupId")

    @property
    def message_deduplication_id(self) -> str | None:
        return self.system_attributes.get("MessageDeduplicationId")

    @property
    def receive_count(self) -> int:
        return int(self.system_attributes.get("ApproximateReceiveCount", "1"))

    @property
    def settled(self) -> bool:
        return self.settlement is not None

    async def ack(self) -> None:
        """Delete the message (batched; returns before the DeleteMessageBatch call)."""
        if self.settlement is None:
            self.settlement = Settlement.ACKED
            await self.settler.ack(self)

    async def nack(self, delay_s: float = 0) -> None:
        """Make the message visible again after `delay_s` seconds (ChangeMessageVisibility)."""
        if self.settlement is None:
            self.settlement = Settlement.RELEASED
            await self.settler.change_visibility(self, visibility_seconds(delay_s))

    async def reject(self, reason: str = "rejected") -> None:
        """Apply the subscriber's reject policy (redrive / dlq / delete)."""
        if self.settlement is None:
            self.settlement = Settlement.REJECTED
            await self.settler.reject(self, reason)
