"""Prometheus metrics of the CSP client, on the registry the consumer serves at ``/metrics``.

Tests pass a fresh ``CollectorRegistry``: the default one refuses a second copy of a name.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from consumers.csp.breaker import CircuitBreaker

#: A CSP call is tens of ms when healthy; the top buckets catch the timeouts (default 10 s).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class CspMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.requests_total = Counter(
            "broker_csp_requests_total",
            "CSP HTTP requests by operation and outcome (one per attempt; circuit_open = "
            "refused without a request)",
            ["operation", "outcome"],
            registry=registry,
        )
        self.request_latency = Histogram(
            "broker_csp_request_latency_seconds",
            "Latency of one CSP HTTP request (rate-limit wait excluded)",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.circuit_state = Gauge(
            "broker_csp_circuit_state",
            "CSP circuit breaker: 0 closed, 1 half-open, 2 open",
            registry=registry,
        )

    def watch(self, breaker: CircuitBreaker) -> None:
        """Read the breaker's state at scrape time (open turns half-open with the clock)."""
        self.circuit_state.set_function(lambda: float(breaker.state))
