"""Tracing set-up from settings, and X-Ray trace headers read as W3C trace context."""

from __future__ import annotations

from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator

from consumers.stores.tracing import tracer_provider
from faststream_sqs.opentelemetry.middleware import traceparent_from_xray
from schemas.settings import CommonSettings


def test_tracing_is_off_by_default() -> None:
    assert CommonSettings().tracing == "off"
    assert tracer_provider(CommonSettings(), service="t") is None


def test_xray_ids_on_request_and_otlp_endpoint_from_settings() -> None:
    settings = CommonSettings(
        tracing="otlp", tracing_xray_ids=True, tracing_otlp_endpoint="http://127.0.0.1:9/v1/traces"
    )
    provider = tracer_provider(settings, service="sandbox-broker-test")
    assert provider is not None
    try:
        assert isinstance(provider.id_generator, AwsXRayIdGenerator)
        assert provider.resource.attributes["service.name"] == "sandbox-broker-test"
        with provider.get_tracer("t").start_as_current_span("s") as span:
            trace_id = f"{span.get_span_context().trace_id:032x}"
        # X-Ray: the first 8 hex digits are the start time in epoch seconds
        assert 1_700_000_000 < int(trace_id[:8], 16) < 4_000_000_000
    finally:
        provider.shutdown()


def test_an_xray_trace_header_becomes_a_traceparent() -> None:
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    assert (
        traceparent_from_xray(header) == "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
    )
    unsampled = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    assert traceparent_from_xray(unsampled).endswith("-00")  # type: ignore[union-attr]
    assert traceparent_from_xray("Root=1-5759e988-bd862e3fe1be46a994272793") is None
    assert traceparent_from_xray("garbage") is None
