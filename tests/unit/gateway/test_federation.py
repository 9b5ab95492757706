"""The gateway's /metrics serves the consumers' broker_* series, none counted twice."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from consumers.metrics import BrokerMetrics
from consumers.queue_metrics import QueueSampler
from producers.gateway import create_app
from producers.gateway.federation import SHARED_GAUGES, Federation
from schemas.settings import GatewaySettings
from tests.unit.gateway.fakes import FakeDDB, FakeSQS

URLS = [
    "http://127.0.0.1:8001/metrics",
    "http://127.0.0.1:8002/metrics",
    "http://127.0.0.1:8003/metrics",
]


def consumer_page(allocated: int, *, pool_available: int) -> bytes:
    """What one consumer's /metrics serves: its own counters, the shared samples."""
    registry = CollectorRegistry()
    metrics = BrokerMetrics(registry)
    QueueSampler(object(), queues=["q.fifo"], dlqs=["q-dlq.fifo"], registry=registry)  # type: ignore[arg-type]
    for _ in range(allocated):
        metrics.allocate_total.labels(outcome="success").inc()
    metrics.set_pool({"available": pool_available, "allocated": allocated})
    return generate_latest(registry) + b"faststream_received_messages_total 3.0\n"


def transport(pages: dict[str, bytes | None]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        page = pages[str(request.url)]
        if page is None:
            raise httpx.ConnectError("down", request=request)
        return httpx.Response(200, content=page)

    return httpx.MockTransport(handle)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"{key} twice"
            out[key] = s.value
    return out


async def test_per_process_series_come_once_per_consumer_with_an_instance_label() -> None:
    pages = {
        URLS[0]: consumer_page(2, pool_available=40),
        URLS[1]: consumer_page(5, pool_available=39),
        URLS[2]: None,
    }
    text = (await Federation(URLS, transport=transport(pages)).text()).decode()
    got = samples(text)
    allocations = {
        dict(labels)["instance"]: v
        for (name, labels), v in got.items()
        if name == "broker_allocate_total"
    }
    assert allocations == {"127.0.0.1:8001": 2, "127.0.0.1:8002": 5}
    assert not any(name.startswith("faststream_") for name, _ in got)
    up = {
        dict(labels)["instance"]: v
        for (name, labels), v in got.items()
        if name == "broker_federation_up"
    }
    assert up == {"127.0.0.1:8001": 1, "127.0.0.1:8002": 1, "127.0.0.1:8003": 0}


async def test_gauges_every_consumer_samples_from_the_table_appear_once() -> None:
    pages = {
        URLS[0]: consumer_page(2, pool_available=40),
        URLS[1]: consumer_page(5, pool_available=39),
        URLS[2]: None,
    }
    got = samples((await Federation(URLS, transport=transport(pages)).text()).decode())
    pool = [(labels, v) for (name, labels), v in got.items() if name == "broker_pool_available"]
    assert pool == [((), 40)]  # the first consumer that answered
    for (name, labels), _ in got.items():
        family = name.removesuffix("_total")
        if family in SHARED_GAUGES:
            assert "instance" not in dict(labels), name


async def test_the_gateways_metrics_page_carries_both_and_parses() -> None:
    pages = {URLS[0]: consumer_page(1, pool_available=7)}
    settings = GatewaySettings(
        track_token="t" * 24, admin_token="a" * 24, metrics_federate_urls=URLS[0]
    )
    app = create_app(settings, sqs=FakeSQS(), ddb=FakeDDB())  # type: ignore[arg-type]
    gw = app.state.gateway
    assert gw.federation is not None
    gw.federation._transport = transport(pages)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        await c.get("/healthz")
        text = (await c.get("/metrics")).text
    got = samples(text)  # one exposition: no family twice, no sample twice
    assert got[("broker_pool_available", ())] == 7
    assert any(name == "http_requests_total" for name, _ in got)
    assert [
        line for line in text.splitlines() if "broker_pool" in line and not line.startswith("#")
    ]


async def test_without_urls_nothing_is_fetched() -> None:
    assert await Federation([]).text() == b""
