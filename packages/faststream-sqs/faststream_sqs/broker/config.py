"""SQSBrokerConfig: the broker's client, queue directory and producer, shared by every endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from faststream._internal.configs import (
    BrokerConfig,
    UnderlyingDriverAnnotation,
    UnderlyingDriverAnnotations,
)
from faststream._internal.parser import DefaultCodec

from faststream_sqs.errors import SQSNotConnectedError
from faststream_sqs.message import MESSAGE_ANNOTATION, SQSMessage
from faststream_sqs.publisher.producer import SQSProducer
from faststream_sqs.queue import QueueDirectory

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient


__all__ = ("SQSBrokerConfig", "SQSNotConnectedError")


def _driver_annotations() -> UnderlyingDriverAnnotations:
    # A handler or dependency asking for the message by its bare class is refused with the
    # context annotation to use instead (FastStream's check_context_annotations).
    return MappingProxyType(
        {
            SQSMessage: UnderlyingDriverAnnotation(
                type_hint=MESSAGE_ANNOTATION,
                module="faststream_sqs.annotations",
                name="SQSMessage",
            ),
        }
    )


@dataclass(kw_only=True)
class SQSBrokerConfig(BrokerConfig):
    """Broker-wide state: set by `connect()`, read by subscribers and publishers."""

    producer: SQSProducer = field(default_factory=SQSProducer)
    default_driver_annotations: UnderlyingDriverAnnotations = field(
        default_factory=_driver_annotations
    )
    #: Set by TestSQSBroker while it patches the broker: subscribers started meanwhile
    #: (added after the broker started, too) run no receive loop; publishes reach them.
    in_memory: bool = field(default=False, init=False, repr=False)
    _client: SQSClient | None = field(default=None, init=False, repr=False)
    _queues: QueueDirectory | None = field(default=None, init=False, repr=False)

    @property
    def client(self) -> SQSClient:
        """The connected client; SQSNotConnectedError before connect()."""
        if self._client is None:
            msg = "SQS broker is not connected: call `await broker.connect()` (or start it) first"
            raise SQSNotConnectedError(msg)
        return self._client

    @property
    def queues(self) -> QueueDirectory:
        """Queue URLs and attributes, cached per connection."""
        if self._queues is None:
            msg = "SQS broker is not connected: call `await broker.connect()` (or start it) first"
            raise SQSNotConnectedError(msg)
        return self._queues

    def connect(self, client: SQSClient) -> None:
        """Bind the client, a fresh queue directory and the producer."""
        self._client = client
        self._queues = QueueDirectory(client)
        self.producer.connect(
            client,
            self._queues,
            serializer=self.fd_config._serializer,
            codec=self.broker_codec or DefaultCodec(),
        )

    def disconnect(self) -> None:
        """Forget the client: using it now raises SQSNotConnectedError."""
        self._client = None
        self._queues = None
        self.producer.disconnect()
