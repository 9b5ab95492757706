"""Raw SQS messages to SQSMessage, and message bodies to Python objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faststream.message import decode_message

from faststream_sqs.errors import SQSError
from faststream_sqs.message import SQSMessage

if TYPE_CHECKING:
    from faststream._internal.basic_types import DecodedMessage
    from faststream.message import StreamMessage

    from faststream_sqs.settlement import ReceivedMessage

# Message attribute names FastStream's own metadata travels under (SQS attribute names
# allow letters, digits, '-', '_' and '.').
CONTENT_TYPE_ATTRIBUTE = "content-type"
CORRELATION_ID_ATTRIBUTE = "correlation_id"
REPLY_TO_ATTRIBUTE = "reply_to"


class SQSDecodeError(SQSError, ValueError):
    """A body that does not decode as its content type says (e.g. invalid JSON)."""


def string_attributes(message_attributes: dict[str, Any]) -> dict[str, str]:
    """Message attributes as strings: String and Number values; Binary ones are left out."""
    return {
        name: str(value["StringValue"])
        for name, value in message_attributes.items()
        if "StringValue" in value
    }


class SQSParser:
    """Parses ReceiveMessage entries and decodes their bodies."""

    __slots__ = ()

    async def parse_message(self, message: ReceivedMessage) -> SQSMessage:
        attributes = string_attributes(message.data.get("MessageAttributes", {}))
        body: str = message.data.get("Body", "")
        return SQSMessage(
            raw_message=message,
            body=body.encode(),
            headers=dict(attributes),
            content_type=attributes.get(CONTENT_TYPE_ATTRIBUTE),
            correlation_id=attributes.get(CORRELATION_ID_ATTRIBUTE) or message.message_id,
            message_id=message.message_id,
            reply_to=attributes.get(REPLY_TO_ATTRIBUTE, ""),
        )

    async def decode_message(self, msg: StreamMessage[Any]) -> DecodedMessage:
        """Decode by content type; a body that does not decode raises SQSDecodeError."""
        try:
            return decode_message(msg)
        except Exception as exc:
            raise SQSDecodeError(f"{type(exc).__name__}: {exc}") from exc
