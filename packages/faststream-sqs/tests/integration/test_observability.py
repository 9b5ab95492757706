"""Observability on moto: Prometheus metrics, the AsyncAPI document, an AsgiFastStream app."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from faststream._internal.testing.app import TestApp
from faststream.asgi import AsgiFastStream, make_asyncapi_asgi, make_ping_asgi
from faststream.specification import AsyncAPI
from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from sqs_moto import QueueFactory, queue_counts, running, wait_until

from faststream_sqs import SQSBroker
from faststream_sqs.prometheus import SQSPrometheusMiddleware

pytestmark = pytest.mark.integration


class Item(BaseModel):
    n: int


async def test_prometheus_counts_consumed_and_published_messages_by_queue(
    make_queue: QueueFactory, make_broker: Any
) -> None:
    queue = await make_queue(fifo=True)
    registry = CollectorRegistry()
    broker, _ = await make_broker(middlewares=[SQSPrometheusMiddleware(registry=registry)])
    handled: list[int] = []

    @broker.subscriber(queue.name, wait_time_s=1)
    async def handle(item: Item) -> None:
        handled.append(item.n)

    async with running(broker) as br:
        for n in range(3):
            await br.publish(
                Item(n=n), queue=queue.name, message_group_id="g", message_deduplication_id=f"{n}"
            )
        await br.publish_batch(
            Item(n=3),
            Item(n=4),
            queue=queue.name,
            message_group_id="g",
            message_deduplication_id=["3", "4"],
        )
        await wait_until(lambda: len(handled) == 5, 10)

    labels = {"app_name": "faststream", "broker": "sqs", "handler": queue.name}
    assert registry.get_sample_value("faststream_received_messages_total", labels) == 5
    assert (
        registry.get_sample_value(
            "faststream_received_processed_messages_total", {**labels, "status": "acked"}
        )
        == 5
    )
    published = {
        "app_name": "faststream",
        "broker": "sqs",
        "destination": queue.name,
        "status": "success",
    }
    assert registry.get_sample_value("faststream_published_messages_total", published) == 5


async def test_asgi_app_serves_health_and_an_asyncapi_document_listing_the_queues(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN an AsgiFastStream app around a broker with a subscriber and a publisher
    source = await make_queue()
    # the publisher gives a group id only: the FIFO target deduplicates by content
    target = await make_queue(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    broker, _ = await make_broker()
    handled: list[int] = []

    @broker.subscriber(source.name, wait_time_s=1)
    @broker.publisher(target.name, message_group_id="out")
    async def handle(item: Item) -> Item:
        handled.append(item.n)
        return item

    app = AsgiFastStream(
        broker,
        asgi_routes=[
            ("/healthz", make_ping_asgi(broker, timeout=5)),
            ("/asyncapi", make_asyncapi_asgi(AsyncAPI(broker))),
        ],
    )
    document = AsyncAPI(broker, schema_version="3.0.0").to_specification().to_jsonable()

    async with TestApp(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            health = await http.get("/healthz")
            docs = await http.get("/asyncapi")
        await broker.publish(Item(n=1), queue=source.name)
        await wait_until(lambda: handled == [1], 10)

        # the handler's return value went on to the target (a failed publish would have
        # nacked the message and run the handler again)
        async def forwarded() -> bool:
            return (await queue_counts(sqs, target.url))[0] == 1

        await wait_until(forwarded, 10, what="the handler's result on the target queue")
    assert handled == [1]

    # THEN health answers 204, and the document names both queues as SQS channels
    assert health.status_code == 204
    assert docs.status_code == 200
    addresses = {channel["address"]: channel for channel in document["channels"].values()}
    assert set(addresses) == {source.name, target.name}
    assert addresses[target.name]["bindings"]["sqs"]["queue"] == {
        "name": target.name,
        "fifoQueue": True,
    }
    assert document["servers"]["development"]["protocol"] == "sqs"


async def test_ping_is_false_before_connect_and_when_sqs_is_unreachable() -> None:
    unreachable = SQSBroker(
        endpoint_url=f"http://127.0.0.1:9/{uuid.uuid4().hex}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    assert await unreachable.ping(1) is False
    await unreachable.connect()
    try:
        assert await unreachable.ping(1) is False
    finally:
        await unreachable.stop()
