"""faststream_sqs against a real moto server: the server, queues per test, brokers, call counters.

The server is moto's own (werkzeug, on loopback, in a thread) behind `SerialisingMiddleware`,
which runs SQS calls one at a time per queue, as SQS's are atomic: moto alone lets two
concurrent receives split one FIFO group or take one message twice, which no consumer can
undo. A lock is never held across a long poll: ReceiveMessage runs with WaitTimeSeconds=0
under the lock, and the wait happens outside it, woken by sends and visibility changes.

Every queue gets a random name and is deleted after its test. Brokers get their own
aiobotocore client (retries off: a retry would hide the failure a test looks for) so each
test can count the SQS calls its broker makes.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from faststream_sqs import SQSBroker

#: Retries off against moto: a retried call would hide the very failure a test looks for.
MOTO_CLIENT_CONFIG = AioConfig(retries={"max_attempts": 1, "mode": "standard"})
#: How often a waiting long poll looks again for messages that became visible by themselves.
LONG_POLL_RECHECK_S = 0.05
#: Calls after which a waiting long poll on the same queue looks again at once.
_SQS_WAKERS = frozenset(
    f"AmazonSQS.{action}"
    for action in (
        "SendMessage",
        "SendMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
    )
)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


async def wait_until(
    predicate: Callable[[], Awaitable[bool]] | Callable[[], bool],
    timeout: float = 10.0,
    *,
    interval: float = 0.05,
    what: str = "condition",
) -> None:
    """Poll `predicate` until true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class SerialisingMiddleware:
    """WSGI middleware: one SQS call at a time per queue, long polls waited for outside.

    With `create_missing_queues`, GetQueueUrl creates the queue it asks for (FIFO when the
    name ends in .fifo) first: FastStream's own test cases name fresh queues freely.
    """

    def __init__(self, app: WSGIApp, *, create_missing_queues: bool = False) -> None:
        self._app = app
        self._create_missing_queues = create_missing_queues
        self._conditions: dict[str, threading.Condition] = {}
        self._conditions_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("AmazonSQS."):
            return self._app(environ, start_response)
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            request = {}
        cond = self._condition(str(request.get("QueueUrl", "")))
        if self._create_missing_queues and target == "AmazonSQS.GetQueueUrl":
            name = str(request.get("QueueName", ""))
            create = {"QueueName": name}
            if name.endswith(".fifo"):
                create["Attributes"] = {"FifoQueue": "true"}  # type: ignore[assignment]
            with cond:
                _capture(
                    self._app,
                    dict(environ, HTTP_X_AMZ_TARGET="AmazonSQS.CreateQueue"),
                    json.dumps(create).encode(),
                )
        if target != "AmazonSQS.ReceiveMessage":
            with cond:
                status, headers, body = _capture(self._app, environ, raw)
                if target in _SQS_WAKERS:
                    cond.notify_all()
            start_response(status, headers)
            return [body]
        wait_s = float(request.get("WaitTimeSeconds", 0) or 0)
        once = json.dumps({**request, "WaitTimeSeconds": 0}).encode()
        deadline = time.monotonic() + wait_s
        with cond:
            while True:
                status, headers, body = _capture(self._app, environ, once)
                left = deadline - time.monotonic()
                if left <= 0 or not status.startswith("200") or _has_messages(body):
                    break
                cond.wait(timeout=min(left, LONG_POLL_RECHECK_S))
        start_response(status, headers)
        return [body]

    def _condition(self, queue_url: str) -> threading.Condition:
        with self._conditions_lock:
            return self._conditions.setdefault(queue_url, threading.Condition())


def _capture(app: WSGIApp, environ: dict[str, Any], data: bytes) -> tuple[str, list[Any], bytes]:
    env = dict(environ, CONTENT_LENGTH=str(len(data)))
    env["wsgi.input"] = io.BytesIO(data)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    body = b"".join(app(env, start_response))
    return seen["status"], seen["headers"], body


def _has_messages(body: bytes) -> bool:
    try:
        return bool(json.loads(body or b"{}").get("Messages"))
    except ValueError:
        return True


@contextmanager
def moto_server(*, create_missing_queues: bool = False) -> Iterator[str]:
    """A moto server on a free loopback port for the block; yields its URL."""
    app = SerialisingMiddleware(
        DomainDispatcherApplication(create_backend_app),
        create_missing_queues=create_missing_queues,
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


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
