"""Prometheus metrics for SQSBroker through FastStream's middleware."""

from faststream_sqs.prometheus.middleware import SQSPrometheusMiddleware
from faststream_sqs.prometheus.provider import SQSMetricsSettingsProvider

__all__ = ("SQSMetricsSettingsProvider", "SQSPrometheusMiddleware")
