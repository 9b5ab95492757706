"""Queue lookups shared by the operator commands: URL by name, depth by GetQueueAttributes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from producers.ops.errors import QueueNotFoundError

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

_MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


async def queue_url(sqs: SQSClient, name: str) -> str:
    try:
        return (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _MISSING_QUEUE_CODES:
            raise QueueNotFoundError(name) from None
        raise


@dataclass(frozen=True)
class QueueDepth:
    """Approximate counts from GetQueueAttributes (SQS counts are eventually consistent)."""

    queue: str
    visible: int
    in_flight: int
    delayed: int
    #: Only where the endpoint reports it: AWS publishes the age of the oldest message to
    #: CloudWatch, not through GetQueueAttributes, and moto does not report it either.
    oldest_age_s: float | None = None

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def depth_of(queue: str, attrs: dict[str, Any]) -> QueueDepth:
    age = attrs.get("ApproximateAgeOfOldestMessage")
    return QueueDepth(
        queue=queue,
        visible=int(attrs.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
        oldest_age_s=float(age) if age is not None else None,
    )


async def queue_depth(sqs: SQSClient, name: str, *, url: str | None = None) -> QueueDepth:
    url = url or await queue_url(sqs, name)
    try:
        resp = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _MISSING_QUEUE_CODES:
            raise QueueNotFoundError(name) from None
        raise
    return depth_of(name, {str(k): v for k, v in resp.get("Attributes", {}).items()})
