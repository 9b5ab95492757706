"""What FastStream's telemetry middleware records for SQS: system "sqs", the queue name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faststream.opentelemetry import TelemetrySettingsProvider
from faststream.opentelemetry.consts import MESSAGING_DESTINATION_PUBLISH_NAME
from opentelemetry.semconv.trace import SpanAttributes

from faststream_sqs.queue import queue_name_of
from faststream_sqs.response import SQSPublishCommand
from faststream_sqs.settlement import ReceivedMessage

if TYPE_CHECKING:
    from faststream.message import StreamMessage

#: OpenTelemetry's messaging attribute for a message's group (SQS FIFO MessageGroupId).
MESSAGE_GROUP_ATTRIBUTE = "messaging.aws.sqs.message_group_id"


class SQSTelemetrySettingsProvider(TelemetrySettingsProvider[ReceivedMessage, SQSPublishCommand]):
    """Span attributes: messaging system "sqs", queue name as destination, FIFO group."""

    __slots__ = ("messaging_system",)

    def __init__(self) -> None:
        self.messaging_system = "sqs"

    def get_consume_attrs_from_message(self, msg: StreamMessage[ReceivedMessage]) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            SpanAttributes.MESSAGING_SYSTEM: self.messaging_system,
            SpanAttributes.MESSAGING_MESSAGE_ID: msg.message_id,
            SpanAttributes.MESSAGING_MESSAGE_CONVERSATION_ID: msg.correlation_id,
            SpanAttributes.MESSAGING_MESSAGE_PAYLOAD_SIZE_BYTES: len(msg.body),
            MESSAGING_DESTINATION_PUBLISH_NAME: msg.raw_message.queue.name,
        }
        if (group := msg.raw_message.message_group_id) is not None:
            attrs[MESSAGE_GROUP_ATTRIBUTE] = group
        return attrs

    def get_consume_destination_name(self, msg: StreamMessage[ReceivedMessage]) -> str:
        return msg.raw_message.queue.name

    def get_publish_attrs_from_cmd(self, cmd: SQSPublishCommand) -> dict[str, Any]:
        return {
            SpanAttributes.MESSAGING_SYSTEM: self.messaging_system,
            SpanAttributes.MESSAGING_DESTINATION_NAME: queue_name_of(cmd.destination),
            SpanAttributes.MESSAGING_MESSAGE_CONVERSATION_ID: cmd.correlation_id,
        }

    def get_publish_destination_name(self, cmd: SQSPublishCommand) -> str:
        return queue_name_of(cmd.destination)
