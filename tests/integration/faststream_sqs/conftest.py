"""faststream_sqs against the real moto server: queues per test, brokers, call counters.

The server is infra's EmbeddedMoto, which serialises SQS calls as SQS's are atomic: moto
alone lets two concurrent receives split one FIFO group or take one message twice, which
no consumer can undo.

Every queue gets a random name and is deleted after its test. Brokers get their own
aiobotocore client (retries off, like the shared one: a retry would hide the failure a
test looks for) so each test can count the SQS calls its broker makes.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiobotocore.session import get_session

from faststream_sqs import SQSBroker
from tests.conftest import MOTO_CLIENT_CONFIG


@dataclass
class Queue:
    """A queue made for one test."""

    name: str
    url: str
    dlq_name: str | None = None
    dlq_url: str | None = None


@dataclass(eq=False)
class CallCounter:
    """SQS operations made through one client, by name (an aiobotocore event hook)."""

    calls: Counter[str] = field(default_factory=Counter)

    def __call__(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.rsplit(".", 1)[-1]] += 1

    def total(self, *operations: str) -> int:
        return sum(self.calls[op] for op in operations)


class QueueFactory:
    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self._urls: list[str] = []

    async def __call__(
        self,
        *,
        fifo: bool = False,
        max_receive_count: int | None = None,
        attributes: dict[str, str] | None = None,
    ) -> Queue:
        """A queue (with a DLQ of the same kind when `max_receive_count` is given)."""
        base = f"fsqs-{uuid.uuid4().hex[:10]}"
        suffix = ".fifo" if fifo else ""
        attrs = dict(attributes or {})
        if fifo:
            attrs["FifoQueue"] = "true"
        dlq_name = dlq_url = None
        if max_receive_count is not None:
            dlq_name = f"{base}-dlq{suffix}"
            dlq_url = await self._create(dlq_name, {"FifoQueue": "true"} if fifo else {})
            arn = (
                await self._sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
            )["Attributes"]["QueueArn"]
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": max_receive_count}
            )
        name = f"{base}{suffix}"
        url = await self._create(name, attrs)
        return Queue(name=name, url=url, dlq_name=dlq_name, dlq_url=dlq_url)

    async def _create(self, name: str, attributes: dict[str, str]) -> str:
        url: str = (await self._sqs.create_queue(QueueName=name, Attributes=attributes))["QueueUrl"]
        self._urls.append(url)
        return url

    async def cleanup(self) -> None:
        for url in self._urls:
            await self._sqs.delete_queue(QueueUrl=url)


@pytest.fixture
async def make_queue(sqs: Any) -> AsyncIterator[QueueFactory]:
    factory = QueueFactory(sqs)
    try:
        yield factory
    finally:
        await factory.cleanup()


@pytest.fixture
async def sqs_client_factory(
    moto_url: str,
) -> AsyncIterator[Callable[[], Awaitable[tuple[Any, CallCounter]]]]:
    """Fresh aiobotocore SQS clients, each with a counter of the calls made through it."""
    async with AsyncExitStack() as stack:

        async def make() -> tuple[Any, CallCounter]:
            client = await stack.enter_async_context(
                get_session().create_client(
                    "sqs",
                    endpoint_url=moto_url,
                    region_name="us-east-1",
                    config=MOTO_CLIENT_CONFIG.merge(
                        type(MOTO_CLIENT_CONFIG)(max_pool_connections=64)
                    ),
                )
            )
            counter = CallCounter()
            client.meta.events.register("before-call.sqs", counter)
            return client, counter

        yield make


@pytest.fixture
async def make_broker(
    sqs_client_factory: Callable[[], Awaitable[tuple[Any, CallCounter]]],
) -> Callable[..., Awaitable[tuple[SQSBroker, CallCounter]]]:
    """An SQSBroker on its own counted client (graceful timeout 10 s unless told)."""

    async def make(**kwargs: Any) -> tuple[SQSBroker, CallCounter]:
        client, counter = await sqs_client_factory()
        kwargs.setdefault("graceful_timeout", 10.0)
        return SQSBroker(client=client, **kwargs), counter

    return make


@asynccontextmanager
async def running(broker: SQSBroker) -> AsyncIterator[SQSBroker]:
    """The broker started for the block and stopped (gracefully) after it."""
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = (
        await sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


async def drain(sqs: Any, url: str, *, wait_s: int = 0) -> list[dict[str, Any]]:
    """Receive (and delete) everything visible on a queue."""
    received: list[dict[str, Any]] = []
    while True:
        response = await sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return received
        received.extend(messages)
        await sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
