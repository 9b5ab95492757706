"""Queue names resolved to URLs and attributes, asked once per queue and cached.

Every SQS call takes a queue URL, and the publisher and the subscriber both need a few of
the queue's attributes (FIFO, content-based deduplication, maximum message size, the
redrive policy). They change rarely and cost a call each, so they are fetched once per
queue per broker connection.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from faststream_sqs.errors import SQSError

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

# What SQS allows when a queue does not say otherwise (the documented defaults).
DEFAULT_MAXIMUM_MESSAGE_SIZE = 262_144
DEFAULT_VISIBILITY_TIMEOUT_S = 30

_ATTRIBUTES = (
    "FifoQueue",
    "ContentBasedDeduplication",
    "MaximumMessageSize",
    "VisibilityTimeout",
    "RedrivePolicy",
    "QueueArn",
)


class SQSQueueConfigError(SQSError):
    """A queue lacks something a subscriber was configured to rely on (e.g. a DLQ)."""


def is_queue_url(queue: str) -> bool:
    return queue.startswith(("http://", "https://"))


def queue_name_of(queue: str) -> str:
    """The queue name of a name or a URL (the last path segment of a URL)."""
    if is_queue_url(queue):
        return urlsplit(queue).path.rstrip("/").rsplit("/", 1)[-1]
    return queue


def is_fifo_name(queue: str) -> bool:
    """SQS requires every FIFO queue name to end with `.fifo`: the name alone tells."""
    return queue_name_of(queue).endswith(".fifo")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueInfo:
    """What the broker needs to know about one queue."""

    name: str
    url: str
    fifo: bool
    content_based_deduplication: bool = False
    maximum_message_size: int = DEFAULT_MAXIMUM_MESSAGE_SIZE
    visibility_timeout_s: int = DEFAULT_VISIBILITY_TIMEOUT_S
    arn: str | None = None
    dead_letter_queue_arn: str | None = None
    max_receive_count: int | None = None

    @classmethod
    def from_attributes(cls, *, name: str, url: str, attributes: dict[str, str]) -> QueueInfo:
        """From GetQueueAttributes' answer."""
        redrive = json.loads(attributes["RedrivePolicy"]) if "RedrivePolicy" in attributes else {}
        max_receive = redrive.get("maxReceiveCount")
        return cls(
            name=name,
            url=url,
            fifo=attributes.get("FifoQueue", "false").lower() == "true",
            content_based_deduplication=(
                attributes.get("ContentBasedDeduplication", "false").lower() == "true"
            ),
            maximum_message_size=int(
                attributes.get("MaximumMessageSize", DEFAULT_MAXIMUM_MESSAGE_SIZE)
            ),
            visibility_timeout_s=int(
                attributes.get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT_S)
            ),
            arn=attributes.get("QueueArn"),
            dead_letter_queue_arn=redrive.get("deadLetterTargetArn"),
            max_receive_count=int(max_receive) if max_receive is not None else None,
        )


class QueueDirectory:
    """Resolves queue names (or URLs) to `QueueInfo`, one GetQueueUrl/GetQueueAttributes each.

    Concurrent first lookups of one queue share a single pair of calls.
    """

    def __init__(self, client: SQSClient) -> None:
        self._client = client
        self._infos: dict[str, asyncio.Task[QueueInfo]] = {}

    async def info(self, queue: str) -> QueueInfo:
        """The queue's URL and attributes (name or URL in), fetched once."""
        task = self._infos.get(queue)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            # First lookup, or the last one failed: ask (again) rather than cache a failure.
            task = self._infos[queue] = asyncio.ensure_future(self._fetch(queue))
        return await asyncio.shield(task)

    async def url(self, queue: str) -> str:
        return (await self.info(queue)).url

    async def dead_letter_queue(self, info: QueueInfo, explicit: str | None) -> QueueInfo:
        """The DLQ: `explicit` (name or URL) if given, else the queue's RedrivePolicy target."""
        if explicit is not None:
            return await self.info(explicit)
        if info.dead_letter_queue_arn is None:
            msg = (
                f"queue {info.name!r} has no RedrivePolicy: give the subscriber dlq=<queue> "
                "or set a redrive policy on the queue"
            )
            raise SQSQueueConfigError(msg)
        # arn:aws:sqs:<region>:<account>:<name>
        return await self.info(info.dead_letter_queue_arn.rsplit(":", 1)[-1])

    async def _fetch(self, queue: str) -> QueueInfo:
        name = queue_name_of(queue)
        if is_queue_url(queue):
            url = queue
        else:
            url = (await self._client.get_queue_url(QueueName=name))["QueueUrl"]
        response = await self._client.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=list(_ATTRIBUTES),  # type: ignore[arg-type]
        )
        return QueueInfo.from_attributes(
            name=name,
            url=url,
            attributes={str(key): value for key, value in response.get("Attributes", {}).items()},
        )
