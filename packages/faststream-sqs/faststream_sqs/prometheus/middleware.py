"""SQSPrometheusMiddleware: FastStream's Prometheus middleware with the SQS settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from faststream._internal.constants import EMPTY
from faststream.prometheus.middleware import PrometheusMiddleware

from faststream_sqs.prometheus.provider import SQSMetricsSettingsProvider
from faststream_sqs.response import SQSPublishCommand
from faststream_sqs.settlement import ReceivedMessage

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class SQSPrometheusMiddleware(PrometheusMiddleware[ReceivedMessage, SQSPublishCommand]):
    """Consume and publish metrics (FastStream's names) labelled broker="sqs" and queue name."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry,
        app_name: str = EMPTY,
        metrics_prefix: str = "faststream",
        received_messages_size_buckets: Sequence[float] | None = None,
        custom_labels: dict[str, str | Callable[[Any], str]] | None = None,
    ) -> None:
        super().__init__(
            settings_provider_factory=lambda _: SQSMetricsSettingsProvider(),
            registry=registry,
            app_name=app_name,
            metrics_prefix=metrics_prefix,
            received_messages_size_buckets=received_messages_size_buckets,
            custom_labels=custom_labels,
        )
