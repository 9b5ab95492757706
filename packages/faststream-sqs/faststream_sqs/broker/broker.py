"""SQSBroker: FastStream's broker for Amazon SQS on aiobotocore."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from fast_depends import Provider, dependency_provider
from faststream._internal.broker import BrokerUsecase
from faststream._internal.constants import EMPTY
from faststream._internal.context.repository import ContextRepo
from faststream._internal.di import FastDependsConfig
from faststream.message import gen_cor_id
from faststream.middlewares import AckPolicy
from faststream.response.publish_type import PublishType
from faststream.specification.schema import BrokerSpec
from typing_extensions import override

from faststream_sqs.broker.config import SQSBrokerConfig
from faststream_sqs.broker.logging import make_sqs_logger_state
from faststream_sqs.broker.registrator import SQSRegistrator
from faststream_sqs.helpers import sqs_client
from faststream_sqs.publisher.batch import SQSPublishBatchResult
from faststream_sqs.publisher.producer import SQSProducer
from faststream_sqs.queue import is_fifo_name
from faststream_sqs.receiver import poller_count
from faststream_sqs.response import SQSPublishCommand
from faststream_sqs.settlement import ReceivedMessage
from faststream_sqs.subscriber.usecase import SQSSubscriber

if TYPE_CHECKING:
    from types import TracebackType

    from fast_depends.dependencies import Dependant
    from fast_depends.library.serializer import SerializerProto
    from faststream._internal.basic_types import LoggerProto, SendableMessage
    from faststream._internal.configs import UnderlyingDriverAnnotations
    from faststream._internal.parser import CodecProto
    from faststream._internal.types import BrokerMiddleware, CustomCallable, IdGenerator
    from faststream.security import BaseSecurity
    from faststream.specification.schema.extra import Tag, TagDict
    from types_aiobotocore_sqs import SQSClient

    from faststream_sqs.response import EntryIds

# Connections beyond the subscribers' pollers: acks, heartbeats, releases and publishes
# run alongside the long polls, and a pool too small makes them queue behind 20 s polls.
EXTRA_CONNECTIONS = 16
# The SQS API version the AsyncAPI document names.
SQS_API_VERSION = "2012-11-05"


class SQSBroker(
    SQSRegistrator,
    BrokerUsecase[ReceivedMessage, "SQSClient", SQSBrokerConfig],
):
    """A FastStream broker for Amazon SQS queues, standard and FIFO.

    The client is built on `connect()` from `endpoint_url`, `region_name`, credentials and
    `client_config` (aiobotocore's `AioConfig`) through `session` (a new aiobotocore session
    by default), and closed on `stop()`. A ready `client` may be passed instead: the broker
    uses it and leaves closing it to its owner.
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        *,
        client: SQSClient | None = None,
        session: AioSession | None = None,
        client_config: AioConfig | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        graceful_timeout: float | None = 15.0,
        decoder: CustomCallable | None = None,
        parser: CustomCallable | None = None,
        codec: CodecProto | None = None,
        dependencies: Sequence[Dependant] = (),
        middlewares: Sequence[BrokerMiddleware[Any, Any]] = (),
        routers: Iterable[SQSRegistrator] = (),
        ack_policy: AckPolicy = EMPTY,
        id_generator: IdGenerator = gen_cor_id,
        # AsyncAPI
        specification_url: str | None = None,
        description: str | None = None,
        tags: Iterable[Tag | TagDict] = (),
        security: BaseSecurity | None = None,
        # logging
        logger: LoggerProto | None = EMPTY,
        log_level: int = logging.INFO,
        # FastDepends
        apply_types: bool = True,
        serializer: SerializerProto | None = EMPTY,
        provider: Provider | None = None,
        context: ContextRepo | None = None,
        underlying_driver_annotations: UnderlyingDriverAnnotations | None = None,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._region_name = region_name
        self._given_client = client
        self._session = session
        self._client_config = client_config
        self._aws_access_key_id = aws_access_key_id
        self._aws_secret_access_key = aws_secret_access_key
        self._aws_session_token = aws_session_token
        self._exit_stack: AsyncExitStack | None = None

        super().__init__(
            routers=routers,
            config=SQSBrokerConfig(
                producer=SQSProducer(parser=parser, decoder=decoder),
                broker_middlewares=middlewares,
                broker_parser=parser,
                broker_decoder=decoder,
                broker_codec=codec,
                logger=make_sqs_logger_state(logger=logger, log_level=log_level),
                fd_config=FastDependsConfig(
                    use_fastdepends=apply_types,
                    serializer=serializer,
                    provider=provider or dependency_provider,
                    context=context or ContextRepo(),
                ),
                broker_dependencies=dependencies,
                graceful_timeout=graceful_timeout,
                ack_policy=ack_policy,
                id_generator=id_generator,
                extra_context={"broker": self},
                underlying_driver_annotations=underlying_driver_annotations or {},
            ),
            specification=BrokerSpec(
                description=description,
                url=[specification_url or endpoint_url or "https://sqs.amazonaws.com"],
                protocol="sqs",
                protocol_version=SQS_API_VERSION,
                tags=tags,
                security=security,
            ),
        )

    @override
    async def _connect(self) -> SQSClient:
        if self._given_client is not None:
            client = self._given_client
        else:
            pool = AioConfig(max_pool_connections=self._connections_needed())
            config = pool.merge(self._client_config) if self._client_config else pool
            self._exit_stack = AsyncExitStack()
            client = await self._exit_stack.enter_async_context(
                sqs_client(
                    session=self._session,
                    endpoint_url=self._endpoint_url,
                    region_name=self._region_name,
                    config=config,
                    aws_access_key_id=self._aws_access_key_id,
                    aws_secret_access_key=self._aws_secret_access_key,
                    aws_session_token=self._aws_session_token,
                )
            )
        self.config.broker_config.connect(client)
        return client

    def _connections_needed(self) -> int:
        pollers = 0
        for subscriber in self.subscribers:
            if isinstance(subscriber, SQSSubscriber):
                pollers += poller_count(
                    max_workers=subscriber.config.max_workers,
                    batch_size=subscriber.config.batch_size,
                    fifo=is_fifo_name(subscriber.queue),
                )
        return pollers + EXTRA_CONNECTIONS

    @override
    async def start(self) -> None:
        """Connect, then start every subscriber (their receive loops) and publisher."""
        await self.connect()
        await super().start()

    @override
    async def stop(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> None:
        """Stop the subscribers (each drains: see SQSSubscriber), then close the client."""
        try:
            await super().stop(exc_type, exc_val, exc_tb)
        finally:
            exit_stack, self._exit_stack = self._exit_stack, None
            if exit_stack is not None:
                await exit_stack.aclose()
            self._connection = None
            self.config.broker_config.disconnect()

    @override
    async def ping(self, timeout: float | None = None) -> bool:
        """True when SQS answers within `timeout` seconds.

        Asks for an attribute of the first subscribed queue (a consumer may read its
        queues' attributes, but need not be allowed ListQueues); ListQueues without one.
        """
        client = self._connection
        if client is None:
            return False
        queues = [s.queue for s in self.subscribers if isinstance(s, SQSSubscriber)]
        try:
            with anyio.fail_after(timeout or 5.0):
                if queues:
                    url = await self.config.broker_config.queues.url(queues[0])
                    await client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                else:
                    await client.list_queues(MaxResults=1)
        except Exception:
            return False
        return True

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
        """Send one message to `queue` (name or URL); return its SQS MessageId.

        A FIFO queue needs `message_group_id`, and `message_deduplication_id` unless the
        queue has ContentBasedDeduplication. `attributes` travel as String message
        attributes (at most ten per message, FastStream's correlation id and content type
        included).
        """
        cmd = SQSPublishCommand(
            message,
            queue=queue,
            message_group_id=message_group_id,
            message_deduplication_id=message_deduplication_id,
            attributes={**(headers or {}), **(attributes or {})},
            correlation_id=correlation_id or self.config.id_generator(),
            reply_to=reply_to,
            _publish_type=PublishType.PUBLISH,
        )
        result: str = await self._basic_publish(cmd, producer=self.config.producer)
        return result

    @override
    async def publish_batch(
        self,
        *messages: SendableMessage,
        queue: str,
        message_group_id: EntryIds = None,
        message_deduplication_id: EntryIds = None,
        attributes: dict[str, str] | None = None,
        correlation_id: str | None = None,
        raise_on_failure: bool = False,
    ) -> SQSPublishBatchResult:
        """Send many messages in SendMessageBatch calls of at most ten entries and at most
        the queue's MaximumMessageSize each, in order.

        Group and dedup ids are given per entry by a callable (body -> id) or a list, or
        one id for all. Every entry is accounted for in the result: sent, or failed with
        SQS's reason (a whole failed call fails each of its entries; an entry too large
        fails alone). With `raise_on_failure`, failures raise SQSPublishBatchError carrying
        the result.
        """
        if not messages:
            return SQSPublishBatchResult()
        cmd = SQSPublishCommand(
            *messages,
            queue=queue,
            message_group_id=message_group_id,
            message_deduplication_id=message_deduplication_id,
            attributes=attributes,
            correlation_id=correlation_id or self.config.id_generator(),
            raise_on_failure=raise_on_failure,
            _publish_type=PublishType.PUBLISH,
        )
        result: SQSPublishBatchResult = await self._basic_publish_batch(
            cmd, producer=self.config.producer
        )
        return result

    @override
    async def request(
        self,
        message: SendableMessage = None,
        queue: str = "",
        /,
        timeout: float = 0.5,
    ) -> Any:
        """Not supported: SQS has no request/reply."""
        msg = "SQS has no request/reply: publish with reply_to and subscribe to the reply queue"
        raise NotImplementedError(msg)
