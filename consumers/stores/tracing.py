"""Tracing for every process: the OpenTelemetry SDK from settings, and AWS call spans.

Here because ``consumers/stores`` is the one layer with I/O that consumers and producers
may both import (the gateway, the consumer and the embedded stack set tracing up alike).

``configure_tracing``: off by default (``BROKER_TRACING=off``): no provider is installed,
nothing is instrumented, OpenTelemetry's API stays a no-op. ``otlp`` exports in batches
over OTLP/HTTP (``BROKER_TRACING_OTLP_ENDPOINT``, else the standard
``OTEL_EXPORTER_OTLP_*`` variables); ``console`` prints each span (a look at a local
stack). On AWS set ``BROKER_TRACING_XRAY_IDS=true``: trace ids then start with the epoch
seconds as X-Ray requires (the AWS SDK extension's id generator), so an ADOT collector or
the CloudWatch agent can forward them to X-Ray. ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` are honoured as the SDK reads them.

``trace_aws_calls``: a client span per AWS call (``DynamoDB TransactWriteItems``, ...).

Registered on botocore's ``before-parameter-build`` / ``after-call`` events of one
aiobotocore client, so it works for any client this project opens, without patching
aiobotocore. The span is a child of whatever span is current when the call is made (a
gateway request, a consumer's message; a call outside any, such as a gauge's sample,
makes none), and carries the operation, the table or queue and the outcome. With
no tracer provider configured the tracer is OpenTelemetry's no-op one.
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING, Any, Final, TypeVar

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.trace import SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from schemas.settings import CommonSettings

C = TypeVar("C")

_SPAN_KEY: Final = "sandbox_broker_otel_span"
_TRACER_NAME: Final = "sandbox_broker.aws"


def tracer_provider(settings: CommonSettings, *, service: str) -> TracerProvider | None:
    """The provider ``settings`` ask for (None when tracing is off); not installed."""
    if settings.tracing == "off":
        return None
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service}),
        id_generator=AwsXRayIdGenerator() if settings.tracing_xray_ids else None,
    )
    if settings.tracing == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        exporter = OTLPSpanExporter(endpoint=settings.tracing_otlp_endpoint)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure_tracing(settings: CommonSettings, *, service: str) -> bool:
    """Install the process-wide provider when tracing is on; spans are flushed at exit.
    True when tracing is on."""
    provider = tracer_provider(settings, service=service)
    if provider is None:
        return False
    trace.set_tracer_provider(provider)
    atexit.register(provider.shutdown)
    return True


def trace_aws_calls(client: C, *, tracer_provider: trace.TracerProvider | None = None) -> C:
    """Make every call of ``client`` a CLIENT span; return the client."""
    tracer = trace.get_tracer(_TRACER_NAME, tracer_provider=tracer_provider)
    meta: Any = getattr(client, "meta")  # noqa: B009 - typed clients hide `meta`'s events
    service_id = meta.service_model.service_id
    service = str(service_id)
    event_name = service_id.hyphenize()

    def before(*, model: Any, params: Any, context: dict[str, Any], **_: Any) -> None:
        if not trace.get_current_span().get_span_context().is_valid:
            return  # background work (gauges, sweeps) is not a trace of its own per call
        attributes: dict[str, str | list[str]] = {
            "rpc.system": "aws-api",
            "rpc.service": service,
            "rpc.method": model.name,
        }
        if isinstance(params, dict):
            if tables := _table_names(params):
                attributes["aws.dynamodb.table_names"] = tables
            if isinstance(queue := params.get("QueueUrl"), str):
                attributes["messaging.destination.name"] = queue.rsplit("/", 1)[-1]
        context[_SPAN_KEY] = tracer.start_span(
            f"{service} {model.name}", kind=SpanKind.CLIENT, attributes=attributes
        )

    def after(*, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        span = context.pop(_SPAN_KEY, None)
        if span is None:
            return
        status = getattr(http_response, "status_code", None)
        if isinstance(status, int):
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                span.set_status(Status(StatusCode.ERROR))
        span.end()

    def failed(*, exception: BaseException, context: dict[str, Any], **_: Any) -> None:
        span = context.pop(_SPAN_KEY, None)
        if span is None:
            return
        span.set_status(Status(StatusCode.ERROR, type(exception).__name__))
        span.end()

    # the parameters as the caller gave them (before-call sees them serialised)
    meta.events.register(f"before-parameter-build.{event_name}", before)
    meta.events.register(f"after-call.{event_name}", after)
    meta.events.register(f"after-call-error.{event_name}", failed)
    return client


def _table_names(params: dict[str, Any]) -> list[str]:
    """The tables a DynamoDB call names: ``TableName``, or each of a transaction's items."""
    if isinstance(table := params.get("TableName"), str):
        return [table]
    names = {
        action["TableName"]
        for item in params.get("TransactItems") or ()
        if isinstance(item, dict)
        for action in item.values()
        if isinstance(action, dict) and isinstance(action.get("TableName"), str)
    }
    return sorted(names)
