"""Queue gauges sampled from ``GetQueueAttributes``: depth by state, DLQ depth, oldest age.

SQS pushes nothing, so the consumer samples every ``interval_s``: one GetQueueAttributes
per queue (both queues and both DLQs), a few calls a minute whatever the traffic. The age
of the oldest message is exported only where the endpoint returns
``ApproximateAgeOfOldestMessage``: AWS publishes it to CloudWatch, not through this call, and
moto does not report it, so there the gauge stays unset rather than showing a made-up 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import CollectorRegistry, Counter, Gauge

from consumers.periodic import repeat
from faststream_sqs.helpers import QueueUrls

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

log = structlog.get_logger(__name__)

#: GetQueueAttributes name -> the ``state`` label of ``broker_queue_messages``.
STATES: Final = {
    "ApproximateNumberOfMessages": "visible",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "ApproximateNumberOfMessagesDelayed": "delayed",
}
OLDEST_AGE_ATTRIBUTE: Final = "ApproximateAgeOfOldestMessage"


class QueueSampler:
    """Samples queue attributes into Prometheus gauges; ``run`` loops until stopped."""

    def __init__(
        self,
        sqs: SQSClient,
        *,
        queues: Sequence[str],
        dlqs: Sequence[str],
        registry: CollectorRegistry,
        interval_s: float = 15.0,
    ) -> None:
        self._sqs = sqs
        self._dlqs = list(dlqs)
        self._queues = [*queues, *(d for d in dlqs if d not in queues)]
        self._interval_s = interval_s
        self._urls = QueueUrls(sqs)
        self.messages = Gauge(
            "broker_queue_messages",
            "Approximate messages per queue by state (visible, in_flight, delayed), "
            "DLQs included; sampled from GetQueueAttributes",
            ["queue", "state"],
            registry=registry,
        )
        self.oldest_age = Gauge(
            "broker_queue_oldest_age_seconds",
            "Age of the oldest message, only where the endpoint reports "
            "ApproximateAgeOfOldestMessage (AWS: CloudWatch only; moto: never)",
            ["queue"],
            registry=registry,
        )
        self.dlq_messages = Gauge(
            "broker_dlq_messages",
            "Messages held by a dead-letter queue (visible + in flight + delayed)",
            ["queue"],
            registry=registry,
        )
        self.sample_failures = Counter(
            "broker_queue_sample_failures_total",
            "GetQueueAttributes samples that failed (the queue's gauges keep their last value)",
            ["queue"],
            registry=registry,
        )

    async def _url(self, queue: str) -> str:
        return await self._urls.url(queue)

    async def _sample(self, queue: str) -> None:
        url = await self._url(queue)
        resp = await self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        attrs: dict[str, Any] = {str(k): v for k, v in resp.get("Attributes", {}).items()}
        for name, state in STATES.items():
            self.messages.labels(queue=queue, state=state).set(int(attrs.get(name, 0)))
        age = attrs.get(OLDEST_AGE_ATTRIBUTE)
        if age is not None:
            self.oldest_age.labels(queue=queue).set(float(age))
        if queue in self._dlqs:
            self.dlq_messages.labels(queue=queue).set(sum(int(attrs.get(n, 0)) for n in STATES))

    async def sample_once(self) -> None:
        """One GetQueueAttributes per queue; a failing queue does not stop the others."""
        results = await asyncio.gather(
            *(self._sample(q) for q in self._queues), return_exceptions=True
        )
        for queue, result in zip(self._queues, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, ClientError | BotoCoreError | OSError):
                    raise result
                self._urls.forget(queue)  # a recreated queue has a new URL
                self.sample_failures.labels(queue=queue).inc()
                log.warning("queue_sample_failed", queue=queue, error=repr(result))

    async def run(self, stop: asyncio.Event) -> None:
        """Sample every ``interval_s`` until ``stop`` is set."""
        await repeat(
            self.sample_once,
            stop,
            interval_s=self._interval_s,
            failed_event="queue_sampler_failed",
        )
