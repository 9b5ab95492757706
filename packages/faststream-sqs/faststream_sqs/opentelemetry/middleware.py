"""SQSTelemetryMiddleware: FastStream's telemetry middleware with the SQS settings.

One addition: a received message without a W3C ``traceparent`` attribute but with SQS's
``AWSTraceHeader`` system attribute (``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1``)
gets the equivalent ``traceparent`` header before FastStream extracts the context, so the
consumer's span joins the X-Ray trace of whoever sent it (X-Ray trace ids are W3C trace ids
with a dash; no propagator package is needed for that).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from faststream.opentelemetry.middleware import BaseTelemetryMiddleware, TelemetryMiddleware

from faststream_sqs.opentelemetry.provider import SQSTelemetrySettingsProvider
from faststream_sqs.response import SQSPublishCommand

if TYPE_CHECKING:
    from faststream._internal.basic_types import AsyncFuncAny
    from faststream._internal.context.repository import ContextRepo
    from faststream.message import StreamMessage
    from opentelemetry.metrics import Meter, MeterProvider
    from opentelemetry.trace import TracerProvider

TRACEPARENT: Final = "traceparent"
AWS_TRACE_HEADER: Final = "AWSTraceHeader"
_XRAY = re.compile(
    r"Root=1-(?P<epoch>[0-9a-f]{8})-(?P<rest>[0-9a-f]{24});Parent=(?P<parent>[0-9a-f]{16})"
    r"(?:;Sampled=(?P<sampled>[01]))?"
)


def traceparent_from_xray(header: str) -> str | None:
    """The W3C ``traceparent`` for an X-Ray trace header, None if it has no parent."""
    found = _XRAY.search(header)
    if found is None:
        return None
    flags = "01" if found["sampled"] == "1" else "00"
    return f"00-{found['epoch']}{found['rest']}-{found['parent']}-{flags}"


class _SQSTelemetry(BaseTelemetryMiddleware[SQSPublishCommand]):
    async def consume_scope(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        if TRACEPARENT not in msg.headers:
            system = getattr(msg.raw_message, "system_attributes", {})
            xray = system.get(AWS_TRACE_HEADER)
            if xray and (parent := traceparent_from_xray(xray)) is not None:
                msg.headers = {**msg.headers, TRACEPARENT: parent}
        return await super().consume_scope(call_next, msg)


class SQSTelemetryMiddleware(TelemetryMiddleware[SQSPublishCommand]):
    """Consume and publish spans (and FastStream's messaging metrics) for SQS.

    ``SQSBroker(middlewares=[SQSTelemetryMiddleware()])`` uses the global tracer provider;
    pass ``tracer_provider`` to use another (tests: one with an in-memory exporter).
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        meter: Meter | None = None,
        include_messages_counters: bool = True,
    ) -> None:
        super().__init__(
            settings_provider_factory=lambda _: SQSTelemetrySettingsProvider(),
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            meter=meter,
            include_messages_counters=include_messages_counters,
        )

    def __call__(self, msg: Any | None, /, *, context: ContextRepo) -> _SQSTelemetry:
        return _SQSTelemetry(
            msg,
            tracer=self._tracer,
            metrics_container=self._metrics,
            settings_provider_factory=self._settings_provider_factory,
            context=context,
        )
