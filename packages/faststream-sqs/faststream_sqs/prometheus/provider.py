"""What FastStream's Prometheus middleware records for SQS: system "sqs", the queue name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faststream.prometheus import ConsumeAttrs, MetricsSettingsProvider

from faststream_sqs.queue import queue_name_of
from faststream_sqs.response import SQSPublishCommand
from faststream_sqs.settlement import ReceivedMessage

if TYPE_CHECKING:
    from faststream.message import StreamMessage


class SQSMetricsSettingsProvider(MetricsSettingsProvider[ReceivedMessage, SQSPublishCommand]):
    """Labels metrics with messaging system "sqs" and the queue name as destination."""

    __slots__ = ("messaging_system",)

    def __init__(self) -> None:
        self.messaging_system = "sqs"

    def get_consume_attrs_from_message(self, msg: StreamMessage[ReceivedMessage]) -> ConsumeAttrs:
        return {
            "destination_name": msg.raw_message.queue.name,
            "message_size": len(msg.body),
            "messages_count": 1,
        }

    def get_publish_destination_name_from_cmd(self, cmd: SQSPublishCommand) -> str:
        return queue_name_of(cmd.destination)
