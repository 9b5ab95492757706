"""AsyncAPI for subscribers: one channel per queue, with the SQS channel binding."""

from __future__ import annotations

from faststream._internal.endpoint.subscriber import SubscriberSpecification
from faststream.specification.asyncapi.utils import resolve_payloads
from faststream.specification.schema import Message, Operation, SubscriberSpec
from faststream.specification.schema.bindings import ChannelBinding, OperationBinding, sqs

from faststream_sqs.broker.config import SQSBrokerConfig
from faststream_sqs.queue import is_queue_url

from .config import SQSSubscriberSpecificationConfig


def prefixed(queue: str, prefix: str) -> str:
    """A router prefix applies to queue names; a full URL is taken as it is."""
    return queue if is_queue_url(queue) else f"{prefix}{queue}"


class SQSSubscriberSpecification(
    SubscriberSpecification[SQSBrokerConfig, SQSSubscriberSpecificationConfig],
):
    """A subscriber's AsyncAPI channel: the queue, with its SQS binding."""

    __slots__ = ()

    @property
    def queue(self) -> str:
        return prefixed(self.config.queue, self._outer_config.prefix)

    @property
    def channel_labels(self) -> list[str]:
        return [self.queue]

    def get_schema(self) -> dict[str, SubscriberSpec]:
        payloads = self.get_payloads()
        return {
            self.name: SubscriberSpec(
                address=self.queue,
                description=self.description,
                operation=Operation(
                    message=Message(
                        title=f"{self.name}:Message",
                        payload=resolve_payloads(payloads),
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
