"""One allocation is one trace: POST → enqueue → the consumer's message → the claim and reply write.

The gateway (FastAPI app over ASGI) and a consumer (its broker started in this process)
run on a real moto server with tracing on; an in-memory exporter collects the spans and
the test follows their parent links from the consumer's DynamoDB write back to the POST.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from consumers.app import Consumer
from consumers.stores.pool import PoolStore
from consumers.stores.replies import ReplyStore
from producers.gateway import create_app
from schemas.settings import CommonSettings, ConsumerSettings
from tests.factories import allocate_message, sandbox, wait_until
from tests.integration.gateway.helpers import gateway_settings, track

pytestmark = pytest.mark.integration

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The process-wide tracer provider, exporting to memory (OpenTelemetry allows one
    global provider per process: installed by the first test that asks, kept after)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def _consumer_settings(provisioned: CommonSettings, moto_url: str) -> ConsumerSettings:
    return ConsumerSettings(
        name_prefix=provisioned.name_prefix,
        aws_endpoint_url=moto_url,
        wait_time_s=1,
        shutdown_timeout_s=5,
        csp_base_url="http://127.0.0.1:9/api",  # allocation never calls the CSP
        csp_token="unused-in-this-test",
        tracing="console",  # the switch; the `spans` fixture installed the provider
    )


def _parent_chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = [span]
    while chain[-1].parent is not None and chain[-1].parent.span_id in by_id:
        chain.append(by_id[chain[-1].parent.span_id])
    return chain


async def test_an_allocation_is_one_trace_from_post_to_reply_write(
    spans: InMemorySpanExporter,
    provisioned: CommonSettings,
    sqs: Any,
    ddb: Any,
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an operator capturing every request header must still never see a token in a span
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    names = provisioned.names
    pool = PoolStore(
        ddb, table=names.pool_table, replies=ReplyStore(ddb, table=names.replies_table)
    )
    assert await pool.put_available(sandbox(0))
    consumer = Consumer(_consumer_settings(provisioned, moto_url))
    app = create_app(gateway_settings(provisioned, tracing="console"), sqs=sqs, ddb=ddb)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client,
        consumer.lifespan(),
    ):
        await consumer.broker.start()
        try:
            answer = await client.post("/v1/allocate", headers=track("trace-1"))
            assert answer.status_code == 202, answer.text
            request_id = answer.json()["request_id"]

            async def replied() -> bool:
                got = await client.get(f"/v1/requests/{request_id}", headers=track("trace-1"))
                return got.status_code == 200 and got.json()["status"] == "succeeded"

            await wait_until(replied, timeout=30, what="the allocation's reply")
        finally:
            await consumer.broker.stop()

    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    post = next(
        s
        for s in finished
        if s.kind is SpanKind.SERVER and s.attributes.get("http.route") == "/v1/allocate"
    )
    publish = next(s for s in finished if s.name == f"{names.requests_queue} publish")
    process = next(s for s in finished if s.name == f"{names.requests_queue} process")
    writes = [
        s
        for s in finished
        if s.kind is SpanKind.CLIENT
        and s.name == "DynamoDB TransactWriteItems"
        and s.parent is not None
        and s.parent.span_id == process.context.span_id
    ]
    assert writes, "the claim (with its reply row) is a span under the message's span"
    claim = writes[-1]

    # one trace, and each step the child of the one before
    assert {s.context.trace_id for s in (post, publish, process, claim)} == {post.context.trace_id}
    assert publish.kind is SpanKind.PRODUCER
    assert process.kind is SpanKind.CONSUMER
    assert process.parent is not None and process.parent.span_id == publish.context.span_id
    assert post in _parent_chain(publish, by_id)
    assert [s.name for s in _parent_chain(claim, by_id)][-1] == post.name
    # the claim's transaction writes the pool item and the reply row together
    assert set(claim.attributes.get("aws.dynamodb.table_names") or ()) >= {
        names.pool_table,
        names.replies_table,
    }
    assert process.attributes.get("messaging.system") == "sqs"
    # the SendMessage itself is the publish span's child
    assert any(
        s.name == "SQS SendMessage"
        and s.parent is not None
        and s.parent.span_id == publish.context.span_id
        for s in finished
    )
    # headers were captured, and no span carries a token
    assert post.attributes.get("http.request.header.authorization") == ("[REDACTED]",)
    for s in finished:
        for value in (s.attributes or {}).values():
            assert "it-track-token" not in str(value)


async def test_a_message_with_an_xray_trace_header_continues_that_trace(
    spans: InMemorySpanExporter, provisioned: CommonSettings, sqs: Any, ddb: Any, moto_url: str
) -> None:
    """As API Gateway's SQS integration sends it on AWS (X-Ray on the stage): no traceparent
    attribute, SQS's AWSTraceHeader system attribute instead."""
    names = provisioned.names
    replies = ReplyStore(ddb, table=names.replies_table)
    pool = PoolStore(ddb, table=names.pool_table, replies=replies)
    assert await pool.put_available(sandbox(0))
    epoch = f"{int(time.time()):08x}"
    root, parent = f"1-{epoch}-{'ab' * 12}", "53995c3f42cd8ad8"
    message = allocate_message("xray-1")
    url = (await sqs.get_queue_url(QueueName=names.requests_queue))["QueueUrl"]
    await sqs.send_message(
        QueueUrl=url,
        MessageBody=message.model_dump_json(),
        MessageGroupId=message.track_id,
        MessageDeduplicationId=message.request_id,
        MessageAttributes={"type": {"DataType": "String", "StringValue": "allocate"}},
        MessageSystemAttributes={
            "AWSTraceHeader": {
                "DataType": "String",
                "StringValue": f"Root={root};Parent={parent};Sampled=1",
            }
        },
    )
    consumer = Consumer(_consumer_settings(provisioned, moto_url))
    async with consumer.lifespan():
        await consumer.broker.start()
        try:
            await wait_until(lambda: replies.get(message.request_id), 30, what="the reply")
        finally:
            await consumer.broker.stop()
    process = next(
        s for s in spans.get_finished_spans() if s.name == f"{names.requests_queue} process"
    )
    assert f"{process.context.trace_id:032x}" == f"{epoch}{'ab' * 12}"
    assert process.parent is not None and f"{process.parent.span_id:016x}" == parent
