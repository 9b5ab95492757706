"""SendMessage exactly as API Gateway's SQS integration does it: one call, FIFO ids, attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from faststream_sqs.helpers import QueueUrls
from producers.enqueue import send
from producers.gateway.errors import ServiceUnavailableError
from schemas.messages import AnyMessage

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

    from producers.gateway.metrics import GatewayMetrics

log = structlog.get_logger(__name__)


class Enqueuer:
    """Sends one message per accepted request; any failure is a 503, never a 500."""

    def __init__(self, sqs: SQSClient, *, metrics: GatewayMetrics) -> None:
        self._sqs = sqs
        self._metrics = metrics
        self._urls = QueueUrls(sqs)

    async def queue_url(self, queue: str) -> str:
        # Resolved once per queue name and kept: API Gateway's integration has it fixed too.
        # Single flight: the POSTs of a burst that arrive before the first GetQueueUrl
        # answers wait for that one call instead of each making its own.
        return await self._urls.url(queue)

    async def send(self, message: AnyMessage, *, queue: str, group_id: str) -> None:
        """SendMessage with MessageGroupId=group_id and MessageDeduplicationId=request_id."""
        try:
            await send(
                self._sqs,
                queue_url=await self.queue_url(queue),
                message=message,
                group_id=group_id,
                dedup_id=message.request_id,
            )
        except Exception as exc:  # whatever SQS or the network did, the caller gets a 503
            self._metrics.enqueue_failures.labels(action=message.type).inc()
            log.warning(
                "enqueue_failed",
                request_id=message.request_id,
                action=message.type,
                outcome="error",
                queue=queue,
                error=type(exc).__name__,
            )
            raise ServiceUnavailableError(f"the queue {queue} did not accept the request") from exc
        self._metrics.enqueued.labels(action=message.type).inc()
