"""What a publish carries: SQSPublishCommand, and SQSResponse for handler results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from faststream.response.publish_type import PublishType
from faststream.response.response import BatchPublishCommand, PublishCommand, Response
from typing_extensions import override

if TYPE_CHECKING:
    from faststream._internal.basic_types import SendableMessage

EntryIds: TypeAlias = str | Callable[[Any], str] | Sequence[str] | None
"""Group or deduplication ids of a publish: one id for every entry, a callable from the
entry's body to its id, or a list with one id per entry."""


class SQSPublishCommand(BatchPublishCommand):
    """One publish (or one publish_batch) to an SQS queue."""

    def __init__(
        self,
        message: SendableMessage,
        /,
        *messages: SendableMessage,
        queue: str,
        message_group_id: EntryIds = None,
        message_deduplication_id: EntryIds = None,
        attributes: dict[str, str] | None = None,
        correlation_id: str | None = None,
        reply_to: str = "",
        raise_on_failure: bool = False,
        _publish_type: PublishType,
    ) -> None:
        super().__init__(
            message,
            *messages,
            destination=queue,
            correlation_id=correlation_id,
            headers=attributes,
            reply_to=reply_to,
            _publish_type=_publish_type,
        )
        self.message_group_id = message_group_id
        self.message_deduplication_id = message_deduplication_id
        self.raise_on_failure = raise_on_failure

    @property
    def queue(self) -> str:
        return self.destination

    @classmethod
    @override
    def from_cmd(cls, cmd: PublishCommand, *, batch: bool = False) -> SQSPublishCommand:
        if isinstance(cmd, SQSPublishCommand):
            return cmd
        body, extra = cls._parse_bodies(cmd.body, batch=batch)
        return cls(
            body,
            *extra,
            queue=cmd.destination,
            attributes={key: str(value) for key, value in cmd.headers.items()},
            correlation_id=cmd.correlation_id,
            reply_to=cmd.reply_to,
            _publish_type=cmd.publish_type,
        )

    def __repr__(self) -> str:
        parts = [f"queue={self.destination!r}", f"entries={len(self.batch_bodies)}"]
        if isinstance(self.message_group_id, str):
            parts.append(f"message_group_id={self.message_group_id!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class SQSResponse(Response):
    """A handler result carrying SQS options for the publisher it goes to."""

    def __init__(
        self,
        body: SendableMessage,
        *,
        attributes: dict[str, str] | None = None,
        correlation_id: str | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> None:
        super().__init__(body=body, headers=attributes, correlation_id=correlation_id)
        self.message_group_id = message_group_id
        self.message_deduplication_id = message_deduplication_id

    @override
    def as_publish_command(self) -> SQSPublishCommand:
        return SQSPublishCommand(
            self.body,
            queue="",
            attributes=self.headers,
            correlation_id=self.correlation_id,
            message_group_id=self.message_group_id,
            message_deduplication_id=self.message_deduplication_id,
            _publish_type=PublishType.PUBLISH,
        )
