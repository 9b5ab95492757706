"""Broker behaviour written once, run in memory (TestSQSBroker) and on the moto server.

A subclass provides the `env` fixture: where queues come from, how a broker is built and
run, and how long to wait for an asynchronous delivery.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Annotated, Any, Protocol

import pytest
from faststream import Context
from pydantic import BaseModel

from faststream_sqs import (
    SQSBroker,
    SQSMessage,
    SQSMessageGroupError,
    SQSResponse,
    SQSRouter,
)
from faststream_sqs.annotations import SQSMessage as SQSMessageAnnotation


class Item(BaseModel):
    n: int
    group: str = "g1"


class BrokerEnv(Protocol):
    subscriber_options: dict[str, Any]
    #: In memory a handler's (or decoder's) error reaches the publish call, as in
    #: FastStream's TestClients; over SQS the publish returns once the message is sent.
    publish_raises: bool

    async def queue(self, *, fifo: bool = False) -> str: ...

    async def broker(self, **kwargs: Any) -> SQSBroker: ...

    def running(self, broker: SQSBroker) -> AbstractAsyncContextManager[SQSBroker]: ...

    async def wait_until(
        self, predicate: Callable[[], bool] | Callable[[], Awaitable[bool]], timeout: float = ...
    ) -> None: ...


def dedup() -> str:
    return uuid.uuid4().hex


class BrokerCases:
    """Behaviour every environment shares; `env` is the subclass's fixture."""

    @pytest.fixture
    def env(self) -> BrokerEnv:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    async def test_handler_gets_model_and_message_fields(self, env: BrokerEnv) -> None:
        queue = await env.queue(fifo=True)
        broker = await env.broker()
        seen: list[tuple[Item, dict[str, Any]]] = []

        @broker.subscriber(queue, **env.subscriber_options)
        async def handle(body: Item, msg: SQSMessageAnnotation) -> None:
            seen.append(
                (
                    body,
                    {
                        "group": msg.message_group_id,
                        "dedup": msg.message_deduplication_id,
                        "receive_count": msg.receive_count,
                        "type": msg.attributes.get("type"),
                        "queue": msg.queue,
                        "last_receive": msg.last_receive,
                        "sent": msg.sent_timestamp,
                        "receipt": msg.receipt_handle,
                    },
                )
            )

        async with env.running(broker) as br:
            before = time.time()
            message_id = await br.publish(
                Item(n=1),
                queue=queue,
                message_group_id="g1",
                message_deduplication_id="d1",
                attributes={"type": "allocate"},
            )
            await env.wait_until(lambda: len(seen) == 1)

        body, fields = seen[0]
        assert body == Item(n=1)
        assert isinstance(message_id, str)
        assert message_id
        assert fields["group"] == "g1"
        assert fields["dedup"] == "d1"
        assert fields["receive_count"] == 1
        assert fields["type"] == "allocate"
        assert fields["queue"] == queue
        assert fields["last_receive"] is False
        assert fields["receipt"]
        assert fields["sent"].timestamp() >= before - 1

    async def test_raw_message_through_context_annotation(self, env: BrokerEnv) -> None:
        queue = await env.queue()
        broker = await env.broker()
        seen: list[SQSMessage] = []

        @broker.subscriber(queue, **env.subscriber_options)
        async def handle(
            body: dict[str, Any],
            message: Annotated[SQSMessage, Context("message")],
            same: SQSMessageAnnotation,
        ) -> None:
            assert same is message
            seen.append(message)

        async with env.running(broker) as br:
            await br.publish({"x": 1}, queue=queue)
            await env.wait_until(lambda: len(seen) == 1)

        assert isinstance(seen[0], SQSMessage)
        assert seen[0].message_group_id is None
        assert seen[0].receive_count == 1

    async def test_handler_result_goes_to_publisher_queue(self, env: BrokerEnv) -> None:
        source, target = await env.queue(fifo=True), await env.queue(fifo=True)
        broker = await env.broker()
        forwarded: list[tuple[int, str | None]] = []

        @broker.subscriber(source, **env.subscriber_options)
        @broker.publisher(target, message_group_id="out")
        async def double(body: Item) -> SQSResponse:
            return SQSResponse(
                Item(n=body.n * 2), message_deduplication_id=f"out-{body.n}-{uuid.uuid4().hex}"
            )

        @broker.subscriber(target, **env.subscriber_options)
        async def collect(body: Item, msg: SQSMessageAnnotation) -> None:
            forwarded.append((body.n, msg.message_group_id))

        async with env.running(broker) as br:
            await br.publish(
                Item(n=21), queue=source, message_group_id="g", message_deduplication_id=dedup()
            )
            await env.wait_until(lambda: len(forwarded) == 1)

        assert forwarded == [(42, "out")]

    async def test_router_prefix_applies_to_queue_names(self, env: BrokerEnv) -> None:
        queue = await env.queue()
        prefix, name = queue[:6], queue[6:]
        router = SQSRouter(prefix=prefix)
        seen: list[int] = []

        @router.subscriber(name, **env.subscriber_options)
        async def handle(body: Item) -> None:
            seen.append(body.n)

        broker = await env.broker()
        broker.include_router(router)

        async with env.running(broker) as br:
            await br.publish(Item(n=7), queue=queue)
            await env.wait_until(lambda: seen == [7])

        assert seen == [7]

    async def test_undecodable_body_is_rejected_without_the_handler_and_its_group_goes_on(
        self, env: BrokerEnv
    ) -> None:
        queue = await env.queue(fifo=True)
        broker = await env.broker()
        handled: list[int] = []
        hooked: list[tuple[str, str]] = []

        async def on_decode_error(raw: dict[str, Any], error: Exception) -> None:
            hooked.append((raw["Body"], type(error).__name__))

        @broker.subscriber(
            queue, reject="delete", on_decode_error=on_decode_error, **env.subscriber_options
        )
        async def handle(body: Item) -> None:
            handled.append(body.n)

        async with env.running(broker) as br:
            for body in (Item(n=1), {"n": "not a number"}, "not json at all", Item(n=2)):
                bad = not isinstance(body, Item) and env.publish_raises
                with pytest.raises(ValueError, match="validation error") if bad else nullcontext():
                    await br.publish(
                        body, queue=queue, message_group_id="g", message_deduplication_id=dedup()
                    )
            await env.wait_until(lambda: handled == [1, 2] and len(hooked) == 2)

        assert handled == [1, 2]
        assert [kind for _, kind in hooked] == ["ValidationError", "ValidationError"]
        assert hooked[1][0] == "not json at all"

    async def test_an_empty_publish_is_delivered_with_an_empty_body(self, env: BrokerEnv) -> None:
        # SQS refuses an empty MessageBody: publish(None) still works, both ways.
        queue = await env.queue()
        broker = await env.broker()
        got: list[bytes] = []

        @broker.subscriber(queue, **env.subscriber_options)
        async def handle(msg: SQSMessageAnnotation) -> None:
            got.append(msg.body)

        async with env.running(broker) as br:
            await br.publish(None, queue=queue)
            await env.wait_until(lambda: got == [b""])

    async def test_fifo_publish_without_group_id_fails_before_sending(self, env: BrokerEnv) -> None:
        queue = await env.queue(fifo=True)
        broker = await env.broker()

        async with env.running(broker) as br:
            with pytest.raises(SQSMessageGroupError, match="message_group_id"):
                await br.publish(Item(n=1), queue=queue, message_deduplication_id="d")
            with pytest.raises(SQSMessageGroupError, match=r"\[1\]"):
                await br.publish_batch(
                    Item(n=1),
                    Item(n=2),
                    queue=queue,
                    message_group_id=["g", ""],
                    message_deduplication_id=[dedup(), dedup()],
                )

    async def test_publish_batch_with_per_entry_ids_keeps_each_group_in_order(
        self, env: BrokerEnv
    ) -> None:
        queue = await env.queue(fifo=True)
        broker = await env.broker()
        seen: dict[str, list[int]] = {}

        @broker.subscriber(queue, max_workers=4, **env.subscriber_options)
        async def handle(body: Item, msg: SQSMessageAnnotation) -> None:
            assert msg.message_group_id == body.group
            seen.setdefault(body.group, []).append(body.n)

        items = [Item(n=n, group=f"g{n % 3}") for n in range(12)]
        async with env.running(broker) as br:
            result = await br.publish_batch(
                *items,
                queue=queue,
                message_group_id=lambda item: item.group,
                message_deduplication_id=[dedup() for _ in items],
            )
            await env.wait_until(lambda: sum(map(len, seen.values())) == 12)

        assert result.ok
        assert sorted(entry.index for entry in result.sent) == list(range(12))
        for group, numbers in seen.items():
            assert numbers == [item.n for item in items if item.group == group]

    async def test_failing_handler_is_retried_in_place_before_any_release(
        self, env: BrokerEnv
    ) -> None:
        queue = await env.queue()
        broker = await env.broker()
        attempts: list[int] = []

        @broker.subscriber(queue, max_attempts=3, retry_backoff_s=0.01, **env.subscriber_options)
        async def handle(body: Item, msg: SQSMessageAnnotation) -> None:
            attempts.append(msg.receive_count)
            if len(attempts) < 3:
                raise RuntimeError("flaky")

        async with env.running(broker) as br:
            await br.publish(Item(n=1), queue=queue)
            await env.wait_until(lambda: len(attempts) == 3)

        # Three attempts of the first delivery: never released in between.
        assert attempts == [1, 1, 1]
