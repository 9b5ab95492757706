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
from faststream.exceptions import IncorrectState

from faststream_sqs.errors import SQSError
from faststream_sqs.publisher.producer import SQSProducer
from faststream_sqs.queue import QueueDirectory

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient


class SQSNotConnectedError(SQSError, IncorrectState):
    """The SQS client was used before the broker connected."""


def _driver_annotations() -> UnderlyingDriverAnnotations:
    # A dependency asking for the message by its bare class is told to use the context
    # annotation (handlers get it either way: subscriber/injection.py). Imported here:
    # `annotations` imports the broker, which imports this module.
    from faststream_sqs import annotations
    from faststream_sqs.message import SQSMessage

    return MappingProxyType(
        {
            SQSMessage: UnderlyingDriverAnnotation(
                type_hint=annotations.SQSMessage,
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
