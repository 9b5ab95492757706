"""A FastStream broker for Amazon SQS (standard and FIFO queues) on aiobotocore.

    from faststream_sqs import SQSBroker
    from faststream_sqs.annotations import SQSMessage

    broker = SQSBroker(endpoint_url=None, region_name=None)

    @broker.subscriber("requests.fifo", max_workers=8, reject="redrive")
    async def handle(body: Request, msg: SQSMessage) -> None: ...

A handler gets the message as in FastStream's other brokers: a parameter annotated with
`faststream_sqs.annotations.SQSMessage` (`Annotated[SQSMessage, Context("message")]`).
`faststream_sqs.SQSMessage` is the class (for isinstance checks and type hints elsewhere).
"""

from faststream_sqs.broker.broker import SQSBroker
from faststream_sqs.broker.config import SQSBrokerConfig
from faststream_sqs.broker.router import SQSRoute, SQSRoutePublisher, SQSRouter
from faststream_sqs.errors import SQSError, SQSNotConnectedError
from faststream_sqs.message import SQSMessage, current_message
from faststream_sqs.parser import SQSDecodeError
from faststream_sqs.publisher.batch import (
    SQSDeduplicationError,
    SQSFailedEntry,
    SQSMessageGroupError,
    SQSMessageSizeError,
    SQSPublishBatchError,
    SQSPublishBatchResult,
    SQSPublishError,
    SQSSentEntry,
)
from faststream_sqs.publisher.producer import SQSProducer
from faststream_sqs.publisher.usecase import SQSPublisher
from faststream_sqs.queue import QueueInfo, SQSQueueConfigError
from faststream_sqs.response import SQSPublishCommand, SQSResponse
from faststream_sqs.settlement import RejectPolicy, Settlement
from faststream_sqs.subscriber.usecase import SQSSubscriber
from faststream_sqs.testing import TestSQSBroker

__all__ = (
    "QueueInfo",
    "RejectPolicy",
    "SQSBroker",
    "SQSBrokerConfig",
    "SQSDecodeError",
    "SQSDeduplicationError",
    "SQSError",
    "SQSFailedEntry",
    "SQSMessage",
    "SQSMessageGroupError",
    "SQSMessageSizeError",
    "SQSNotConnectedError",
    "SQSProducer",
    "SQSPublishBatchError",
    "SQSPublishBatchResult",
    "SQSPublishCommand",
    "SQSPublishError",
    "SQSPublisher",
    "SQSQueueConfigError",
    "SQSResponse",
    "SQSRoute",
    "SQSRoutePublisher",
    "SQSRouter",
    "SQSSentEntry",
    "SQSSubscriber",
    "Settlement",
    "TestSQSBroker",
    "current_message",
)
