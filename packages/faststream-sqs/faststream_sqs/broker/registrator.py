"""SQSRegistrator: `subscriber()` and `publisher()`, shared by the broker and its routers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from faststream._internal.broker.registrator import Registrator
from faststream._internal.constants import EMPTY
from faststream.middlewares import AckPolicy
from typing_extensions import override

from faststream_sqs.broker.config import SQSBrokerConfig
from faststream_sqs.publisher.factory import create_publisher
from faststream_sqs.settlement import ReceivedMessage
from faststream_sqs.subscriber.factory import create_subscriber

if TYPE_CHECKING:
    from fast_depends.dependencies import Dependant
    from faststream._internal.parser import CodecProto
    from faststream._internal.types import BrokerMiddleware, CustomCallable

    from faststream_sqs.publisher.usecase import SQSPublisher
    from faststream_sqs.settlement import RejectPolicy
    from faststream_sqs.subscriber.failures import DecodeErrorHook
    from faststream_sqs.subscriber.usecase import SQSSubscriber


class SQSRegistrator(Registrator[ReceivedMessage, SQSBrokerConfig]):
    """Registers SQS subscribers and publishers."""

    @override
    def subscriber(  # type: ignore[override]
        self,
        queue: str,
        *,
        max_workers: int = 1,
        batch_size: int = 10,
        wait_time_s: int = 20,
        visibility_timeout_s: int | None = None,
        reject: RejectPolicy = "redrive",
        dlq: str | None = None,
        on_decode_error: DecodeErrorHook | None = None,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.5,
        # broker arguments
        ack_policy: AckPolicy = EMPTY,
        no_reply: bool = False,
        dependencies: Sequence[Dependant] = (),
        parser: CustomCallable | None = None,
        decoder: CustomCallable | None = None,
        codec: CodecProto | None = None,
        persistent: bool = True,
        # AsyncAPI information
        title: str | None = None,
        description: str | None = None,
        include_in_schema: bool = True,
    ) -> SQSSubscriber:
        """Consume a queue (name or URL; standard or FIFO).

        Args:
            queue: queue name (a router's prefix is prepended) or full queue URL.
            max_workers: handlers running at once; FIFO groups run concurrently up to it,
                each group one message at a time, in order.
            batch_size: MaxNumberOfMessages per ReceiveMessage (1..10).
            wait_time_s: long-polling WaitTimeSeconds (0..20).
            visibility_timeout_s: VisibilityTimeout asked for on receive and renewed by
                the heartbeat; the queue's own when None.
            reject: what `reject()` does and where undecodable bodies go:
                "redrive" (visible again at once; SQS dead-letters after maxReceiveCount),
                "dlq" (sent to the dead-letter queue now, then deleted), "delete".
            dlq: the dead-letter queue for reject="dlq"; the queue's RedrivePolicy
                target when None.
            on_decode_error: called with the raw SQS message and the error before an
                undecodable body is rejected (sync or async).
            max_attempts: handler attempts in place before the message is released.
            retry_backoff_s: the first in-place retry waits this long, doubling after.
            ack_policy: FastStream's acknowledgement policy; NACK_ON_ERROR by default.
            no_reply: do not publish the handler's result to the message's reply_to.
            dependencies: FastDepends dependencies of the handler.
            parser: custom parser of raw messages.
            decoder: custom decoder of message bodies.
            codec: custom codec of message bodies.
            persistent: keep the subscriber across broker restarts.
            title: AsyncAPI title.
            description: AsyncAPI description.
            include_in_schema: list the subscriber in the AsyncAPI document.
        """
        subscriber = create_subscriber(
            queue=queue,
            config=cast("SQSBrokerConfig", self.config),
            max_workers=max_workers,
            batch_size=batch_size,
            wait_time_s=wait_time_s,
            visibility_timeout_s=visibility_timeout_s,
            reject=reject,
            dlq=dlq,
            on_decode_error=on_decode_error,
            max_attempts=max_attempts,
            retry_backoff_s=retry_backoff_s,
            ack_policy=ack_policy,
            no_reply=no_reply,
            title_=title,
            description_=description,
            include_in_schema=include_in_schema,
        )
        super().subscriber(subscriber, persistent=persistent)
        return subscriber.add_call(
            parser_=parser or self._parser,
            decoder_=decoder or self._decoder,
            codec_=codec,
            dependencies_=dependencies,
        )

    @override
    def publisher(  # type: ignore[override]
        self,
        queue: str,
        *,
        message_group_id: str | None = None,
        attributes: dict[str, str] | None = None,
        persistent: bool = True,
        # AsyncAPI information
        title: str | None = None,
        description: str | None = None,
        schema: Any | None = None,
        include_in_schema: bool = True,
    ) -> SQSPublisher:
        """A publisher to a queue (name or URL).

        Args:
            queue: queue name (a router's prefix is prepended) or full queue URL.
            message_group_id: the group of every message sent, unless a publish says
                otherwise (FIFO queues need one).
            attributes: message attributes added to every message.
            persistent: keep the publisher across broker restarts.
            title: AsyncAPI title.
            description: AsyncAPI description.
            schema: AsyncAPI payload type.
            include_in_schema: list the publisher in the AsyncAPI document.
        """
        publisher = create_publisher(
            queue=queue,
            config=cast("SQSBrokerConfig", self.config),
            message_group_id=message_group_id,
            attributes=attributes,
            schema_=schema,
            title_=title,
            description_=description,
            include_in_schema=include_in_schema,
        )
        super().publisher(publisher, persistent=persistent)
        return publisher

    @override
    def include_router(
        self,
        router: SQSRegistrator,  # type: ignore[override]
        *,
        prefix: str = "",
        dependencies: Sequence[Dependant] = (),
        middlewares: Sequence[BrokerMiddleware[Any, Any]] = (),
        include_in_schema: bool | None = None,
    ) -> None:
        if not isinstance(router, SQSRegistrator):
            msg = f"Router must be an SQSRegistrator, got {type(router).__name__}"
            raise TypeError(msg)
        super().include_router(
            router,
            prefix=prefix,
            dependencies=dependencies,
            middlewares=middlewares,
            include_in_schema=include_in_schema,
        )
