"""One SendMessage for a contract message: body, FIFO ids and the routing attributes.

The send is a PRODUCER span ``<queue> publish`` whose context travels in the message's
``traceparent`` (and ``tracestate`` / ``baggage`` when set) attributes, as FastStream's
telemetry middleware sends and reads it: the consumer's ``<queue> process`` span is its
child. With no tracer provider configured nothing is added to the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from schemas.messages import message_attributes

if TYPE_CHECKING:
    from pydantic import BaseModel
    from types_aiobotocore_sqs import SQSClient

_tracer: Final = trace.get_tracer("sandbox_broker.enqueue")


async def send(
    sqs: SQSClient,
    *,
    queue_url: str,
    message: BaseModel,
    group_id: str,
    dedup_id: str,
) -> str:
    """Enqueue ``message`` (which has ``type`` and ``request_id``); return the SQS message id."""
    queue = queue_url.rsplit("/", 1)[-1]
    with _tracer.start_as_current_span(
        f"{queue} publish",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "sqs",
            "messaging.destination.name": queue,
            "messaging.operation": "publish",
            "messaging.message.conversation_id": dedup_id,
        },
    ) as span:
        values = dict(message_attributes(message, type_=message.type))  # type: ignore[attr-defined, arg-type]
        propagate.inject(values)
        attrs: dict[str, Any] = {
            k: {"DataType": "String", "StringValue": v} for k, v in values.items()
        }
        resp = await sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=message.model_dump_json(),
            MessageGroupId=group_id,
            MessageDeduplicationId=dedup_id,
            MessageAttributes=attrs,
        )
        span.set_attribute("messaging.message.id", resp["MessageId"])
        return resp["MessageId"]
