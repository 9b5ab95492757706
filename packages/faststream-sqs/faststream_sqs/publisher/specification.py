"""AsyncAPI for publishers: the queue a publisher sends to, as a channel."""

from __future__ import annotations

from faststream._internal.endpoint.publisher import PublisherSpecification
from faststream.specification.asyncapi.utils import resolve_payloads
from faststream.specification.schema import Message, Operation, PublisherSpec
from faststream.specification.schema.bindings import ChannelBinding, OperationBinding, sqs

from faststream_sqs.broker.config import SQSBrokerConfig
from faststream_sqs.subscriber.specification import prefixed

from .config import SQSPublisherSpecificationConfig


class SQSPublisherSpecification(
    PublisherSpecification[SQSBrokerConfig, SQSPublisherSpecificationConfig],
):
    """A publisher's AsyncAPI channel: the queue, with its SQS binding."""

    __slots__ = ()

    @property
    def queue(self) -> str:
        return prefixed(self.config.queue, self._outer_config.prefix)

    @property
    def name(self) -> str:
        return self.config.title_ or f"{self.queue}:Publisher"

    def get_schema(self) -> dict[str, PublisherSpec]:
        payloads = self.get_payloads()
        return {
            self.name: PublisherSpec(
                address=self.queue,
                description=self.config.description_,
                operation=Operation(
                    message=Message(
                        title=f"{self.name}:Message",
                        payload=resolve_payloads(payloads, "Publisher"),
                    ),
                    bindings=OperationBinding(sqs=sqs.OperationBinding()),
                ),
                bindings=ChannelBinding(
                    sqs=sqs.ChannelBinding(
                        queue={"name": self.queue, "fifoQueue": self.config.fifo},
                    ),
                ),
            ),
        }
