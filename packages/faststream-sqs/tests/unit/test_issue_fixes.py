"""Bugs FastStream's own broker cases found, each pinned in memory (TestSQSBroker)."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.exceptions import StopApplication, StopConsume
from faststream.middlewares import ExceptionMiddleware
from pydantic import BaseModel, ValidationError

from faststream_sqs import Settlement, SQSBroker, TestSQSBroker, current_message
from faststream_sqs.annotations import SQSMessage
from faststream_sqs.queue import QueueInfo
from faststream_sqs.subscriber.settler import MAX_REDRIVE_BACKOFF_S, redrive_delay_s


class Item(BaseModel):
    n: int


@pytest.mark.parametrize("empty", [None, b"", ""])
async def test_an_empty_body_is_published_and_handed_over_empty(empty: Any) -> None:
    broker = SQSBroker()
    got: list[tuple[Any, dict[str, str]]] = []

    @broker.subscriber("q")
    async def handle(body: Any, msg: SQSMessage) -> None:
        got.append((msg.body, msg.headers))

    async with TestSQSBroker(broker) as br:
        message_id = await br.publish(empty, queue="q")

    assert message_id
    ((body, headers),) = got
    assert body == b""
    assert "x-empty-body" not in headers


@pytest.mark.parametrize("stop", [StopConsume, StopApplication])
async def test_stop_consume_and_stop_application_are_not_retried(stop: type[Exception]) -> None:
    broker = SQSBroker()
    calls: list[int] = []

    @broker.subscriber("q", max_attempts=3, retry_backoff_s=0)
    async def handle(body: Item) -> None:
        calls.append(body.n)
        raise stop

    async with TestSQSBroker(broker) as br:
        if stop is StopConsume:
            await br.publish(Item(n=1), queue="q")
            await br.publish(Item(n=2), queue="q")  # the subscriber stopped: not delivered
        else:
            # SystemExit: in memory it reaches the caller (the app would exit).
            with pytest.raises(StopApplication):
                await br.publish(Item(n=1), queue="q")

    assert calls == [1]


async def test_a_subscriber_added_after_start_receives_in_memory() -> None:
    broker = SQSBroker()
    got: list[int] = []

    async with TestSQSBroker(broker) as br:
        subscriber = br.subscriber("late")

        @subscriber
        async def handle(body: Item) -> None:
            got.append(body.n)

        await subscriber.start()
        await br.publish(Item(n=7), queue="late")

    assert got == [7]


async def test_a_test_broker_of_two_brokers_routes_between_them() -> None:
    first, second = SQSBroker(), SQSBroker()
    got: list[int] = []

    @first.subscriber("in")
    @second.publisher("out")
    async def relay(body: Item) -> Item:
        return Item(n=body.n + 1)

    @first.subscriber("out")
    async def sink(body: Item) -> None:
        got.append(body.n)

    async with TestSQSBroker(first, second) as (br, _):
        await br.publish(Item(n=1), queue="in")

    assert got == [2]


async def test_an_undecodable_body_reaches_an_exception_middleware_and_is_rejected() -> None:
    seen: list[str] = []
    errors = ExceptionMiddleware()

    @errors.add_handler(ValidationError)
    async def on_invalid(exc: ValidationError) -> None:
        seen.append(type(exc).__name__)

    broker = SQSBroker(middlewares=[errors])

    @broker.subscriber("q", reject="delete")
    async def handle(body: Item) -> None:
        raise AssertionError("never called")

    test_broker = TestSQSBroker(broker)
    async with test_broker as br:
        await br.publish({"n": "x"}, queue="q")  # handled by the middleware: not raised

    assert seen == ["ValidationError"]
    (delivery,) = test_broker.deliveries
    assert delivery.settlement is Settlement.REJECTED


def test_redrive_without_a_redrive_policy_backs_off_instead_of_looping() -> None:
    plain = QueueInfo(name="q", url="u", fifo=False)
    redriven = QueueInfo(name="q", url="u", fifo=False, max_receive_count=3)
    assert [redrive_delay_s(plain, n) for n in (1, 2, 3)] == [2, 4, 8]
    assert redrive_delay_s(plain, 50) == MAX_REDRIVE_BACKOFF_S
    assert redrive_delay_s(redriven, 1) == 0  # SQS dead-letters it by maxReceiveCount


async def test_a_handler_reaches_its_message_without_a_context_argument() -> None:
    broker = SQSBroker()
    seen: list[str] = []

    @broker.subscriber("q")
    async def handle(body: Item) -> None:
        seen.append(current_message().message_id)

    async with TestSQSBroker(broker) as br:
        message_id = await br.publish(Item(n=1), queue="q")

    assert seen == [message_id]
    with pytest.raises(LookupError):
        current_message()
