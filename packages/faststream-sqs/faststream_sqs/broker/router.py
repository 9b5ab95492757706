"""SQSRouter and SQSRoute: subscribers and publishers declared apart from the broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from faststream._internal.broker.router import ArgsContainer, BrokerRouter, SubscriberRoute
from faststream._internal.constants import EMPTY
from faststream.middlewares import AckPolicy

from faststream_sqs.broker.config import SQSBrokerConfig
from faststream_sqs.settlement import ReceivedMessage

from .registrator import SQSRegistrator

if TYPE_CHECKING:
    from fast_depends.dependencies import Dependant
    from faststream._internal.basic_types import SendableMessage
    from faststream._internal.configs import UnderlyingDriverAnnotations
    from faststream._internal.types import BrokerMiddleware, CustomCallable

    from faststream_sqs.settlement import RejectPolicy
    from faststream_sqs.subscriber.failures import DecodeErrorHook


class SQSRoutePublisher(ArgsContainer):
    """A publisher declared on an SQSRoute: `SQSRegistrator.publisher()`'s arguments."""

    def __init__(
        self,
        queue: str,
        *,
        message_group_id: str | None = None,
        attributes: dict[str, str] | None = None,
        persistent: bool = True,
        title: str | None = None,
        description: str | None = None,
        schema: Any | None = None,
        include_in_schema: bool = True,
    ) -> None:
        super().__init__(
            queue,
            message_group_id=message_group_id,
            attributes=attributes,
            persistent=persistent,
            title=title,
            description=description,
            schema=schema,
            include_in_schema=include_in_schema,
        )


class SQSRoute(SubscriberRoute):
    """A handler and its subscriber options, registered when the router is built."""

    def __init__(
        self,
        call: Callable[..., SendableMessage] | Callable[..., Awaitable[SendableMessage]],
        queue: str,
        *,
        publishers: Iterable[SQSRoutePublisher] = (),
        max_workers: int = 1,
        batch_size: int = 10,
        wait_time_s: int = 20,
        visibility_timeout_s: int | None = None,
        reject: RejectPolicy = "redrive",
        dlq: str | None = None,
        on_decode_error: DecodeErrorHook | None = None,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.5,
        ack_policy: AckPolicy = EMPTY,
        no_reply: bool = False,
        dependencies: Sequence[Dependant] = (),
        parser: CustomCallable | None = None,
        decoder: CustomCallable | None = None,
        persistent: bool = True,
        title: str | None = None,
        description: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        super().__init__(
            call,
            queue,
            publishers=publishers,
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
            dependencies=dependencies,
            parser=parser,
            decoder=decoder,
            persistent=persistent,
            title=title,
            description=description,
            include_in_schema=include_in_schema,
        )


class SQSRouter(SQSRegistrator, BrokerRouter[ReceivedMessage, SQSBrokerConfig]):
    """Subscribers and publishers to include into an SQSBroker (with an optional prefix)."""

    def __init__(
        self,
        prefix: str = "",
        handlers: Iterable[SQSRoute] = (),
        *,
        dependencies: Sequence[Dependant] = (),
        middlewares: Sequence[BrokerMiddleware[Any, Any]] = (),
        routers: Iterable[SQSRegistrator] = (),
        parser: CustomCallable | None = None,
        decoder: CustomCallable | None = None,
        include_in_schema: bool | None = None,
        ack_policy: AckPolicy = EMPTY,
        underlying_driver_annotations: UnderlyingDriverAnnotations | None = None,
    ) -> None:
        super().__init__(
            handlers=handlers,
            config=SQSBrokerConfig(
                prefix=prefix,
                ack_policy=ack_policy,
                broker_dependencies=dependencies,
                broker_middlewares=middlewares,
                broker_parser=parser,
                broker_decoder=decoder,
                include_in_schema=include_in_schema,
                underlying_driver_annotations=underlying_driver_annotations or {},
            ),
            routers=routers,
        )
