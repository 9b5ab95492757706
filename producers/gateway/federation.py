"""The consumers' ``broker_*`` series on the gateway's ``/metrics`` (the embedded stack).

The seeds' runbook reads the pool from the API (``curl $URL/metrics | grep broker_pool``);
in this system those gauges live in the consumers. When ``metrics_federate_urls`` names
the consumers' ``/metrics``, each scrape of the gateway fetches them (concurrently, a short
timeout each) and appends their ``broker_*`` families, so nothing is counted twice:

- series of one process (counters, histograms, the CSP breaker) appear once per consumer,
  with an ``instance`` label (``host:port``), so ``sum()`` over them is the stack's total;
- gauges every consumer samples from the same table or queue (``SHARED_GAUGES``: the pool
  by status, queue and DLQ depths) appear once, unlabelled, from the first consumer that
  answered (they differ only by when each sampled);
- ``broker_federation_up{instance}`` says which consumers answered this scrape.

A family the gateway itself exports is never taken from a consumer (no duplicate names).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import urlsplit

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

#: Sampled by every consumer from the same table or queues (consumers/metrics.py,
#: consumers/queue_metrics.py): one series each, not one per consumer.
SHARED_GAUGES: Final = frozenset(
    {
        "broker_pool_sandboxes",
        "broker_pool_available",
        "broker_pool_allocated",
        "broker_pool_pending_deletion",
        "broker_pool_stale",
        "broker_pool_total",
        "broker_queue_messages",
        "broker_queue_oldest_age_seconds",
        "broker_dlq_messages",
    }
)
PREFIX: Final = "broker_"
#: A consumer that cannot answer within this long is left out of this scrape.
FETCH_TIMEOUT_S: Final = 2.0


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def _instance(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


class Federation:
    """Fetches the consumers' metrics and renders their ``broker_*`` families."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        own: frozenset[str] = frozenset(),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.urls = list(urls)
        self._own = own
        self._transport = transport  # tests hand in an httpx.MockTransport

    async def _fetch(self, client: httpx.AsyncClient, url: str) -> str | None:
        try:
            response = await client.get(url)
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None

    async def text(self) -> bytes:
        """The federated families in the text exposition format (empty without URLs)."""
        if not self.urls:
            return b""
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, transport=self._transport) as client:
            pages = await asyncio.gather(*(self._fetch(client, u) for u in self.urls))
        up = Metric(
            "broker_federation_up", "Consumers whose /metrics answered this scrape", "gauge"
        )
        merged: dict[str, Metric] = {}
        for url, page in zip(self.urls, pages, strict=True):
            instance = _instance(url)
            up.add_sample("broker_federation_up", {"instance": instance}, 1.0 if page else 0.0)
            if page is None:
                continue
            for family in text_string_to_metric_families(page):
                if not family.name.startswith(PREFIX) or family.name in self._own:
                    continue
                shared = family.name in SHARED_GAUGES
                if shared and family.name in merged:
                    continue  # the first consumer's sample stands for all
                target = merged.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for sample in family.samples:
                    labels = (
                        dict(sample.labels) if shared else {**sample.labels, "instance": instance}
                    )
                    target.add_sample(sample.name, labels, sample.value, sample.timestamp)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families([*merged.values(), up]))
        return generate_latest(registry)


def own_family_names(registry: CollectorRegistry) -> frozenset[str]:
    """The family names a registry exports (counters without their ``_total``)."""
    return frozenset(m.name for m in registry.collect())
