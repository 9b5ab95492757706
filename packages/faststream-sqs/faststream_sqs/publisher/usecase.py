"""SQSPublisher: a queue to publish to, from application code or from a handler's result."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from faststream._internal.endpoint.publisher import PublisherUsecase
from faststream.response.publish_type import PublishType
from typing_extensions import override

from faststream_sqs.publisher.batch import SQSPublishBatchResult
from faststream_sqs.response import SQSPublishCommand
from faststream_sqs.subscriber.specification import prefixed

if TYPE_CHECKING:
    from faststream._internal.basic_types import SendableMessage
    from faststream._internal.endpoint.publisher import PublisherSpecification
    from faststream._internal.types import PublisherMiddleware
    from faststream.response.response import PublishCommand

    from faststream_sqs.broker.config import SQSBrokerConfig
    from faststream_sqs.response import EntryIds

    from .config import SQSPublisherConfig


class SQSPublisher(PublisherUsecase):
    """Publishes to one queue; a FIFO publisher may carry a default message group id."""

    _outer_config: SQSBrokerConfig

    def __init__(
        self,
        config: SQSPublisherConfig,
        specification: PublisherSpecification[Any, Any],
    ) -> None:
        super().__init__(config, specification)
        self.config = config

    @property
    def queue(self) -> str:
        return prefixed(self.config.queue, self._outer_config.prefix)

    @override
    async def publish(
        self,
        message: SendableMessage = None,
        queue: str = "",
        *,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
        attributes: dict[str, str] | None = None,
        correlation_id: str | None = None,
        reply_to: str = "",
        headers: dict[str, str] | None = None,
    ) -> str:
        """Send one message; return its SQS MessageId."""
        cmd = SQSPublishCommand(
            message,
            queue=queue or self.queue,
            message_group_id=message_group_id or self.config.message_group_id,
            message_deduplication_id=message_deduplication_id,
            attributes=self.config.attributes | (headers or {}) | (attributes or {}),
            correlation_id=correlation_id or self._outer_config.id_generator(),
            reply_to=reply_to,
            _publish_type=PublishType.PUBLISH,
        )
        result: str = await self._basic_publish(
            cmd, producer=self._outer_config.producer, _extra_middlewares=()
        )
        return result

    async def publish_batch(
        self,
        *messages: SendableMessage,
        queue: str = "",
        message_group_id: EntryIds = None,
        message_deduplication_id: EntryIds = None,
        attributes: dict[str, str] | None = None,
        correlation_id: str | None = None,
        raise_on_failure: bool = False,
    ) -> SQSPublishBatchResult:
        """Send many messages in packed SendMessageBatch calls; see `SQSBroker.publish_batch`."""
        if not messages:
            return SQSPublishBatchResult()
        cmd = SQSPublishCommand(
            *messages,
            queue=queue or self.queue,
            message_group_id=message_group_id or self.config.message_group_id,
            message_deduplication_id=message_deduplication_id,
            attributes=self.config.attributes | (attributes or {}),
            correlation_id=correlation_id or self._outer_config.id_generator(),
            raise_on_failure=raise_on_failure,
            _publish_type=PublishType.PUBLISH,
        )
        result: SQSPublishBatchResult = await self._basic_publish_batch(
            cmd, producer=self._outer_config.producer, _extra_middlewares=()
        )
        return result

    @override
    async def _publish(
        self,
        cmd: PublishCommand,
        *,
        _extra_middlewares: Iterable[PublisherMiddleware],
    ) -> None:
        """A handler's result, sent on by this publisher (subscriber flow)."""
        sqs_cmd = SQSPublishCommand.from_cmd(cmd)
        sqs_cmd.destination = self.queue
        sqs_cmd.add_headers(self.config.attributes, override=False)
        if sqs_cmd.message_group_id is None:
            sqs_cmd.message_group_id = self.config.message_group_id
        await self._basic_publish(
            sqs_cmd, producer=self._outer_config.producer, _extra_middlewares=_extra_middlewares
        )

    @override
    async def request(
        self,
        message: SendableMessage,
        /,
        *,
        correlation_id: str | None = None,
    ) -> Any:
        msg = "SQS has no request/reply: publish with reply_to and subscribe to the reply queue"
        raise NotImplementedError(msg)
