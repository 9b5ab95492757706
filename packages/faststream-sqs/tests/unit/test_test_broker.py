"""TestSQSBroker in memory: settlements, failures, the decode step, and the broker surface."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fast_depends import Depends
from faststream import Context
from faststream.exceptions import RejectMessage, SetupError
from faststream.middlewares import AckPolicy
from faststream.specification import AsyncAPI
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ValidationError
from sqs_logs import capture_logs

from faststream_sqs import (
    Settlement,
    SQSBroker,
    SQSMessage,
    SQSNotConnectedError,
    SQSRoute,
    SQSRoutePublisher,
    SQSRouter,
    TestSQSBroker,
)
from faststream_sqs.annotations import SQSMessage as SQSMessageAnnotation
from faststream_sqs.prometheus import SQSPrometheusMiddleware
from faststream_sqs.subscriber.failures import mark_handler_start, undecodable_cause


class Item(BaseModel):
    n: int


FAST = {"retry_backoff_s": 0.0}


async def test_a_handled_message_is_acked() -> None:
    broker = SQSBroker()

    @broker.subscriber("q", **FAST)
    async def handle(item: Item) -> None: ...

    test_broker = TestSQSBroker(broker)
    async with test_broker as br:
        await br.publish(Item(n=1), queue="q")
        handle.mock.assert_called_once_with({"n": 1})
    (delivery,) = test_broker.deliveries
    assert delivery.settlement is Settlement.ACKED


async def test_a_failure_is_retried_in_place_then_the_message_released_and_the_error_raised() -> (
    None
):
    broker = SQSBroker()
    attempts: list[int] = []

    @broker.subscriber("q", max_attempts=3, **FAST)
    async def handle(item: Item) -> None:
        attempts.append(item.n)
        raise ValueError("a ValueError from the handler is a failure, not a bad body")

    test_broker = TestSQSBroker(broker)
    async with test_broker as br:
        with pytest.raises(ValueError, match="from the handler"):
            await br.publish(Item(n=1), queue="q")
    assert attempts == [1, 1, 1]
    assert test_broker.deliveries[0].settlement is Settlement.RELEASED


async def test_a_validation_error_inside_the_handler_is_retried_not_rejected() -> None:
    broker = SQSBroker()
    attempts = 0

    @broker.subscriber("q", max_attempts=2, **FAST)
    async def handle(item: Item) -> None:
        nonlocal attempts
        attempts += 1
        Item.model_validate({"n": "not a number"})

    test_broker = TestSQSBroker(broker)
    async with test_broker as br:
        with pytest.raises(ValidationError):
            await br.publish(Item(n=1), queue="q")
    assert attempts == 2
    assert test_broker.deliveries[0].settlement is Settlement.RELEASED


async def test_a_failing_dependency_is_retried_not_taken_for_a_bad_body() -> None:
    broker = SQSBroker()
    calls = 0

    def connection() -> str:
        nonlocal calls
        calls += 1
        raise ConnectionError("database down")

    @broker.subscriber("q", max_attempts=2, **FAST)
    async def handle(item: Item, db: str = Depends(connection)) -> None: ...

    test_broker = TestSQSBroker(broker)
    async with test_broker as br:
        with pytest.raises(ConnectionError):
            await br.publish(Item(n=1), queue="q")
    assert calls == 2
    assert test_broker.deliveries[0].settlement is Settlement.RELEASED


async def test_an_undecodable_body_is_rejected_with_the_hook_called_and_a_log_line() -> None:
    broker = SQSBroker()
    seen: list[tuple[str, type[Exception]]] = []

    def broken_hook(raw: dict[str, Any], error: Exception) -> None:
        seen.append((raw["Body"], type(error)))
        raise RuntimeError("a broken hook does not keep the message alive")

    @broker.subscriber("q", reject="delete", on_decode_error=broken_hook, **FAST)
    async def handle(item: Item) -> None:
        raise AssertionError("never called")

    test_broker = TestSQSBroker(broker)
    with capture_logs() as logs:
        async with test_broker as br:
            # The decode error reaches the caller in memory, as FastStream's TestClients do.
            with pytest.raises(ValidationError):
                await br.publish({"n": "x"}, queue="q")
    assert seen == [('{"n":"x"}', ValidationError)]
    (delivery,) = test_broker.deliveries
    assert delivery.settlement is Settlement.REJECTED
    assert delivery.settler.reject_reasons == {  # type: ignore[attr-defined]
        delivery.message_id: "undecodable: ValidationError"
    }
    assert [entry["event"] for entry in logs] == ["decode_error_hook_failed", "message_rejected"]
    assert logs[1]["policy"] == "delete"
    assert logs[1]["reason"] == "undecodable: ValidationError"


async def test_sync_handlers_keep_working_with_the_start_marker() -> None:
    broker = SQSBroker()
    got: list[int] = []

    @broker.subscriber("q")
    def handle(item: Item) -> None:
        got.append(item.n)

    async with TestSQSBroker(broker) as br:
        await br.publish(Item(n=5), queue="q")
    assert got == [5]


@pytest.mark.parametrize(
    ("policy", "settlement"),
    [(AckPolicy.REJECT_ON_ERROR, Settlement.REJECTED), (AckPolicy.ACK, Settlement.ACKED)],
)
async def test_fast_streams_ack_policies_apply_after_the_retries(
    policy: AckPolicy, settlement: Settlement
) -> None:
    broker = SQSBroker()

    @broker.subscriber("q", ack_policy=policy, max_attempts=1)
    async def handle(item: Item) -> None:
        raise RuntimeError("boom")

    test_broker = TestSQSBroker(broker)
    async with test_broker as br:
        with pytest.raises(RuntimeError):
            await br.publish(Item(n=1), queue="q")
    assert test_broker.deliveries[0].settlement is settlement


async def test_reject_message_from_a_handler_applies_the_reject_policy_at_once() -> None:
    broker = SQSBroker()
    calls = 0

    @broker.subscriber("q", max_attempts=5)
    async def handle(item: Item) -> None:
        nonlocal calls
        calls += 1
        raise RejectMessage

    test_broker = TestSQSBroker(broker)
    async with test_broker as br:
        await br.publish(Item(n=1), queue="q")
    assert calls == 1
    assert test_broker.deliveries[0].settlement is Settlement.REJECTED


async def test_manual_ack_policy_leaves_settling_to_the_handler() -> None:
    broker = SQSBroker()

    @broker.subscriber("acked", ack_policy=AckPolicy.MANUAL)
    async def acks(item: Item, msg: SQSMessageAnnotation) -> None:
        await msg.nack(delay_s=30)

    @broker.subscriber("forgotten", ack_policy=AckPolicy.MANUAL)
    async def forgets(item: Item) -> None: ...

    test_broker = TestSQSBroker(broker)
    with capture_logs() as logs:
        async with test_broker as br:
            await br.publish(Item(n=1), queue="acked")
            await br.publish(Item(n=2), queue="forgotten")
    nacked, forgotten = test_broker.deliveries
    assert nacked.settlement is Settlement.RELEASED
    assert nacked.settler.visibility == {nacked.message_id: 30}  # type: ignore[attr-defined]
    assert forgotten.settlement is Settlement.RELEASED
    assert [entry["event"] for entry in logs] == ["message_unsettled"]


async def test_a_publisher_without_a_subscriber_records_what_it_was_given() -> None:
    broker = SQSBroker()
    publisher = broker.publisher("out.fifo", message_group_id="g")

    @broker.subscriber("in")
    @publisher
    async def handle(item: Item) -> Item:
        return Item(n=item.n + 1)

    async with TestSQSBroker(broker) as br:
        await br.publish(Item(n=1), queue="in")
        await publisher.publish(Item(n=9), message_deduplication_id="d")
        assert publisher.mock is not None
        assert [call.args[0] for call in publisher.mock.call_args_list] == [{"n": 2}, {"n": 9}]


async def test_routes_routers_and_prefixes() -> None:
    got: list[tuple[str, int]] = []

    async def from_route(item: Item, msg: SQSMessageAnnotation) -> Item:
        got.append((msg.queue, item.n))
        return item

    router = SQSRouter(
        prefix="stage-",
        handlers=[
            SQSRoute(from_route, "in", publishers=[SQSRoutePublisher("out")]),
        ],
    )

    @router.subscriber("out")
    async def sink(item: Item, msg: SQSMessageAnnotation) -> None:
        got.append((msg.queue, item.n))

    broker = SQSBroker()
    broker.include_router(router)
    async with TestSQSBroker(broker) as br:
        await br.publish(Item(n=3), queue="stage-in")
    assert got == [("stage-in", 3), ("stage-out", 3)]
    with pytest.raises(TypeError, match="SQSRegistrator"):
        broker.include_router(object())  # type: ignore[arg-type]


async def test_message_in_context_and_fifo_checks_in_memory() -> None:
    broker = SQSBroker()
    seen: list[str | None] = []

    @broker.subscriber("jobs.fifo")
    async def handle(item: Item, message: Any = Context("message")) -> None:
        seen.append(message.message_group_id)

    async with TestSQSBroker(broker) as br:
        await br.publish(Item(n=1), queue="jobs.fifo", message_group_id="g1")
    assert seen == ["g1"]


async def test_prometheus_and_asyncapi_in_memory() -> None:
    registry = CollectorRegistry()
    broker = SQSBroker(middlewares=[SQSPrometheusMiddleware(registry=registry)])

    @broker.subscriber("requests.fifo", description="Sandbox requests")
    async def handle(item: Item) -> None: ...

    async with TestSQSBroker(broker) as br:
        await br.publish(Item(n=1), queue="requests.fifo", message_group_id="g")

    labels = {"app_name": "faststream", "broker": "sqs", "handler": "requests.fifo"}
    assert registry.get_sample_value("faststream_received_messages_total", labels) == 1
    document = AsyncAPI(broker, schema_version="2.6.0").to_specification().to_jsonable()
    (channel,) = document["channels"].values()
    assert channel["bindings"]["sqs"]["queue"] == {"name": "requests.fifo", "fifoQueue": True}
    assert channel["description"] == "Sandbox requests"


async def test_what_sqs_cannot_do_says_so() -> None:
    broker = SQSBroker()
    subscriber = broker.subscriber("q")
    with pytest.raises(NotImplementedError, match="request/reply"):
        await broker.request(Item(n=1), "q")
    with pytest.raises(SQSNotConnectedError, match="not connected"):
        await subscriber.get_one()
    with pytest.raises(SQSNotConnectedError, match="not connected"):
        await broker.publish(Item(n=1), queue="q")


async def test_headers_travel_as_attributes_and_only_strings_do() -> None:
    broker = SQSBroker()
    got: list[dict[str, str]] = []

    @broker.subscriber("q")
    async def handle(msg: SQSMessageAnnotation) -> None:
        got.append(msg.headers)

    async with TestSQSBroker(broker) as br:
        await br.publish(Item(n=1), queue="q", headers={"trace": "t1"}, attributes={"a": "1"})
        with pytest.raises(SetupError, match="n': 'int"):
            await br.publish(Item(n=2), queue="q", headers={"n": 1})  # type: ignore[dict-item]

    ((headers),) = got
    assert headers["trace"] == "t1"
    assert headers["a"] == "1"


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"batch_size": 11}, "batch_size"),
        ({"wait_time_s": 21}, "wait_time_s"),
        ({"max_workers": 0}, "max_workers"),
        ({"visibility_timeout_s": 0}, "visibility_timeout_s"),
        ({"reject": "drop"}, "reject"),
        ({"dlq": "x"}, "dlq="),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_subscriber_options_are_checked_when_declared(
    options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        SQSBroker().subscriber("q", **options)


def test_undecodable_cause_tells_a_bad_body_from_a_failing_handler() -> None:
    error = ValueError("bad")
    assert undecodable_cause(error, handler_started=False) is error
    assert undecodable_cause(error, handler_started=True) is None
    assert undecodable_cause(ConnectionError(), handler_started=False) is None


def test_the_start_marker_keeps_the_handler_signature() -> None:
    async def handler(item: Item, n: int = 1) -> Item:
        return item

    def sync_handler(item: Item) -> None: ...

    assert inspect.signature(mark_handler_start(handler)) == inspect.signature(handler)
    assert inspect.iscoroutinefunction(mark_handler_start(handler))
    assert not inspect.iscoroutinefunction(mark_handler_start(sync_handler))


async def test_a_bare_sqs_message_parameter_is_refused_with_the_annotation_to_use() -> None:
    # FastStream's way: the message comes from the context annotation; the bare class
    # would be validated as message data, so FastStream refuses it and names the fix.
    broker = SQSBroker()

    @broker.subscriber("q")
    async def handler(item: Item, msg: SQSMessage) -> None: ...

    with pytest.raises(SetupError, match=r"faststream_sqs\.annotations"):
        async with TestSQSBroker(broker):
            pass
