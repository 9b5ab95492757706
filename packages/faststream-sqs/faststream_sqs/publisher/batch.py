"""Outgoing entries: building them, checking them, packing them into SendMessageBatch calls.

Shared by the real producer and TestSQSBroker's fake one, so both refuse the same
mistakes (a FIFO message without a group id, too many attributes) the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from faststream_sqs.acks import MAX_BATCH_ENTRIES
from faststream_sqs.errors import SQSError
from faststream_sqs.queue import is_fifo_name, queue_name_of

if TYPE_CHECKING:
    from faststream_sqs.queue import QueueInfo
    from faststream_sqs.response import EntryIds

# SQS accepts at most ten message attributes per message.
MAX_MESSAGE_ATTRIBUTES = 10
ATTRIBUTE_DATA_TYPE = "String"


class SQSPublishError(SQSError):
    """A message that SQS would refuse, caught before any call."""


class SQSMessageGroupError(SQSPublishError):
    """A message for a FIFO queue without a MessageGroupId."""


class SQSDeduplicationError(SQSPublishError):
    """A FIFO message without a MessageDeduplicationId on a queue without content-based dedup."""


class SQSMessageSizeError(SQSPublishError):
    """A message larger than the queue's MaximumMessageSize."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SQSSentEntry:
    """An entry SQS accepted."""

    index: int
    message_id: str
    sequence_number: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SQSFailedEntry:
    """An entry that was not sent: refused by SQS, lost with a failed call, or too large."""

    index: int
    code: str
    message: str
    sender_fault: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SQSPublishBatchResult:
    """The fate of every entry of a publish_batch, by its position in the call."""

    sent: list[SQSSentEntry] = field(default_factory=list)
    failed: list[SQSFailedEntry] = field(default_factory=list)
    calls: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


class SQSPublishBatchError(SQSPublishError):
    """publish_batch(raise_on_failure=True) had entries that were not sent."""

    def __init__(self, result: SQSPublishBatchResult) -> None:
        self.result = result
        indexes = ", ".join(str(entry.index) for entry in result.failed)
        super().__init__(f"{len(result.failed)} entries were not sent (indexes {indexes})")


@dataclass(slots=True, kw_only=True)
class OutgoingEntry:
    """One message ready for SendMessage / SendMessageBatch."""

    index: int
    body: str
    attributes: dict[str, str]
    message_group_id: str | None = None
    message_deduplication_id: str | None = None

    @property
    def size(self) -> int:
        """Bytes SQS counts against MaximumMessageSize: body plus attribute names, types, values."""
        return len(self.body.encode()) + sum(
            len(name.encode()) + len(ATTRIBUTE_DATA_TYPE) + len(value.encode())
            for name, value in self.attributes.items()
        )

    def message_attributes(self) -> dict[str, dict[str, str]]:
        return {
            name: {"DataType": ATTRIBUTE_DATA_TYPE, "StringValue": value}
            for name, value in self.attributes.items()
        }

    def send_arguments(self) -> dict[str, Any]:
        """Keyword arguments of SendMessage (QueueUrl aside)."""
        arguments: dict[str, Any] = {"MessageBody": self.body}
        if self.attributes:
            arguments["MessageAttributes"] = self.message_attributes()
        if self.message_group_id is not None:
            arguments["MessageGroupId"] = self.message_group_id
        if self.message_deduplication_id is not None:
            arguments["MessageDeduplicationId"] = self.message_deduplication_id
        return arguments

    def batch_entry(self) -> dict[str, Any]:
        return {"Id": str(self.index), **self.send_arguments()}


def entry_ids(ids: EntryIds, bodies: Sequence[Any], *, what: str) -> list[str | None]:
    """One id (or None) per body from a single id, a callable or a list."""
    if ids is None:
        return [None] * len(bodies)
    if isinstance(ids, str):
        return [ids] * len(bodies)
    if callable(ids):
        make: Callable[[Any], str] = ids
        return [make(body) for body in bodies]
    listed = list(ids)
    if len(listed) != len(bodies):
        msg = f"{what}: {len(listed)} ids for {len(bodies)} entries"
        raise SQSPublishError(msg)
    return list(listed)


def check_before_sending(queue: str, entries: Sequence[OutgoingEntry]) -> None:
    """Refuse what SQS would refuse, before any call: group ids and attribute counts."""
    if is_fifo_name(queue):
        missing = [entry.index for entry in entries if not entry.message_group_id]
        if missing:
            msg = (
                f"{queue_name_of(queue)!r} is a FIFO queue: every message needs a "
                f"message_group_id (missing for entries {missing})"
            )
            raise SQSMessageGroupError(msg)
    for entry in entries:
        if len(entry.attributes) > MAX_MESSAGE_ATTRIBUTES:
            msg = (
                f"SQS takes at most {MAX_MESSAGE_ATTRIBUTES} message attributes; entry "
                f"{entry.index} has {len(entry.attributes)}: {sorted(entry.attributes)}"
            )
            raise SQSPublishError(msg)


def check_deduplication(info: QueueInfo, entries: Sequence[OutgoingEntry]) -> None:
    """A FIFO queue without content-based deduplication needs a dedup id on every entry."""
    if not info.fifo or info.content_based_deduplication:
        return
    missing = [entry.index for entry in entries if not entry.message_deduplication_id]
    if missing:
        msg = (
            f"{info.name!r} has no ContentBasedDeduplication: every message needs a "
            f"message_deduplication_id (missing for entries {missing})"
        )
        raise SQSDeduplicationError(msg)
    if len(entries) > 1:
        ids = [entry.message_deduplication_id for entry in entries]
        if len(set(ids)) != len(ids):
            # SQS would quietly keep one of each and report all as sent.
            msg = f"duplicate message_deduplication_id within one batch to {info.name!r}"
            raise SQSDeduplicationError(msg)


def pack(entries: Sequence[OutgoingEntry], *, max_bytes: int) -> list[list[OutgoingEntry]]:
    """Entries in order, cut into calls of at most ten entries and `max_bytes` in total.

    Every entry must fit alone (see `too_large`); order is kept so a FIFO group's
    messages are sent in the order given.
    """
    calls: list[list[OutgoingEntry]] = []
    current: list[OutgoingEntry] = []
    size = 0
    for entry in entries:
        if current and (len(current) == MAX_BATCH_ENTRIES or size + entry.size > max_bytes):
            calls.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry.size
    if current:
        calls.append(current)
    return calls


def too_large(entry: OutgoingEntry, max_bytes: int) -> SQSFailedEntry | None:
    if entry.size <= max_bytes:
        return None
    return SQSFailedEntry(
        index=entry.index,
        code="MessageTooLong",
        message=f"{entry.size} bytes exceed the queue's MaximumMessageSize of {max_bytes}",
        sender_fault=True,
    )
