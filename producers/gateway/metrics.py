"""Prometheus metrics of the gateway, in a registry of its own (one per app, so tests and an
embedded stack running several apps never collide on names).

The HTTP metric names are the seeds' (``http_requests_total{method, endpoint, status}``,
``broker_request_latency_seconds{method, endpoint}``) so existing dashboards keep working;
Every label has a bounded set of values, whatever callers send: ``endpoint`` is the route
template (never the raw path, so ids cannot explode cardinality) or ``unmatched``; ``method``
one of ``HTTP_METHODS`` or ``other`` (2,000 invented methods once made 24,049 series);
``status`` a status the gateway answers; the other labels are enums of the code.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

#: Gateway answers are one SQS or DynamoDB call: tens of milliseconds, seconds when AWS is slow.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

#: The endpoint label of a request that matched no route.
UNMATCHED = "unmatched"
#: The method label's values; any other method a caller invents counts as OTHER_METHOD.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
#: Routes Starlette serves itself (no route template in the scope): their path is their name.
OWN_ROUTES = frozenset({"/docs", "/docs/oauth2-redirect", "/openapi.json"})


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else OTHER_METHOD


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else "other"


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered by the gateway",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "broker_request_latency_seconds",
            "Time to answer an HTTP request",
            ["method", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "broker_rate_limited_total",
            "Requests refused with 429, by budget (track or admin)",
            ["scope"],
            registry=self.registry,
        )
        self.enqueued = Counter(
            "broker_enqueued_total",
            "Messages accepted by SQS, by message type",
            ["action"],
            registry=self.registry,
        )
        self.enqueue_failures = Counter(
            "broker_enqueue_failures_total",
            "SendMessage calls that failed (answered 503), by message type",
            ["action"],
            registry=self.registry,
        )
