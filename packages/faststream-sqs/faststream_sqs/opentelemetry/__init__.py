"""OpenTelemetry for SQSBroker through FastStream's TelemetryMiddleware.

The trace context travels in message attributes (``traceparent``, ``tracestate``,
``baggage``: W3C names, each one SQS message attribute of the ten SQS allows). A message
that has none but carries SQS's ``AWSTraceHeader`` system attribute (API Gateway's SQS
integration or any X-Ray-instrumented sender sets it) continues that X-Ray trace.
"""

from faststream_sqs.opentelemetry.middleware import SQSTelemetryMiddleware
from faststream_sqs.opentelemetry.provider import SQSTelemetrySettingsProvider

__all__ = ("SQSTelemetryMiddleware", "SQSTelemetrySettingsProvider")
