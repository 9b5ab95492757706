"""SQSProducer: SendMessage for one message, packed SendMessageBatch calls for many."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from faststream._internal.endpoint.utils import ParserComposition
from faststream._internal.parser import DefaultCodec
from faststream._internal.producer import ProducerProto
from faststream.exceptions import SetupError
from typing_extensions import override

from faststream_sqs.errors import SQSNotConnectedError
from faststream_sqs.parser import (
    CONTENT_TYPE_ATTRIBUTE,
    CORRELATION_ID_ATTRIBUTE,
    EMPTY_BODY_ATTRIBUTE,
    EMPTY_BODY_PLACEHOLDER,
    REPLY_TO_ATTRIBUTE,
    SQSParser,
)
from faststream_sqs.publisher.batch import (
    OutgoingEntry,
    SQSFailedEntry,
    SQSMessageSizeError,
    SQSPublishBatchError,
    SQSPublishBatchResult,
    SQSPublishError,
    SQSSentEntry,
    check_before_sending,
    check_deduplication,
    entry_ids,
    pack,
    too_large,
)
from faststream_sqs.response import SQSPublishCommand

if TYPE_CHECKING:
    from fast_depends.library.serializer import SerializerProto
    from faststream._internal.parser import CodecProto
    from faststream._internal.types import AsyncCallable, CustomCallable
    from types_aiobotocore_sqs import SQSClient

    from faststream_sqs.queue import QueueDirectory


def string_headers(headers: dict[str, Any]) -> dict[str, str]:
    """Headers as SQS String message attributes; any other value type is refused."""
    wrong = {
        key: type(value).__name__ for key, value in headers.items() if not isinstance(value, str)
    }
    if wrong:
        msg = f"SQS message attributes are strings here; convert these headers first: {wrong}"
        raise SetupError(msg)
    return dict(headers)


async def build_entries(
    cmd: SQSPublishCommand,
    *,
    codec: CodecProto,
    serializer: SerializerProto | None,
    single: bool = False,
) -> list[OutgoingEntry]:
    """Encode every body of `cmd` and attach its attributes and FIFO ids.

    `single`: the one body of a publish, None included (a batch leaves out None bodies).
    """
    bodies = (cmd.body,) if single else cmd.batch_bodies
    groups = entry_ids(cmd.message_group_id, bodies, what="message_group_id")
    dedups = entry_ids(cmd.message_deduplication_id, bodies, what="message_deduplication_id")
    entries = []
    for index, body in enumerate(bodies):
        payload, content_type = await codec.encode(body, serializer)
        try:
            text = payload.decode()
        except UnicodeDecodeError as exc:
            msg = "SQS message bodies are text: encode binary payloads (e.g. base64) first"
            raise SQSPublishError(msg) from exc
        attributes = string_headers(cmd.headers)
        if not text:
            text = EMPTY_BODY_PLACEHOLDER
            attributes[EMPTY_BODY_ATTRIBUTE] = "true"
        if content_type:
            attributes[CONTENT_TYPE_ATTRIBUTE] = content_type
        if cmd.correlation_id:
            attributes[CORRELATION_ID_ATTRIBUTE] = cmd.correlation_id
        if cmd.reply_to:
            attributes[REPLY_TO_ATTRIBUTE] = cmd.reply_to
        entries.append(
            OutgoingEntry(
                index=index,
                body=text,
                attributes=attributes,
                message_group_id=groups[index],
                message_deduplication_id=dedups[index],
            )
        )
    return entries


class SQSProducer(ProducerProto[SQSPublishCommand]):
    """Sends messages to SQS queues through the broker's client."""

    _parser: AsyncCallable
    _decoder: AsyncCallable

    def __init__(
        self,
        *,
        parser: CustomCallable | None = None,
        decoder: CustomCallable | None = None,
    ) -> None:
        default = SQSParser()
        self._parser = ParserComposition(parser, default.parse_message)
        self._decoder = ParserComposition(decoder, default.decode_message)
        self.codec: CodecProto = DefaultCodec()
        self.serializer: SerializerProto | None = None
        self._client: SQSClient | None = None
        self._queues: QueueDirectory | None = None

    def connect(
        self,
        client: SQSClient,
        queues: QueueDirectory,
        *,
        serializer: SerializerProto | None,
        codec: CodecProto | None = None,
    ) -> None:
        """Bind the broker's client and queue directory, and its serializer and codec."""
        self._client = client
        self._queues = queues
        self.serializer = serializer
        self.codec = codec or DefaultCodec()

    def disconnect(self) -> None:
        self._client = None
        self._queues = None

    def _connected(self) -> tuple[SQSClient, QueueDirectory]:
        if self._client is None or self._queues is None:
            msg = "SQS broker is not connected: call `await broker.connect()` (or start it) first"
            raise SQSNotConnectedError(msg)
        return self._client, self._queues

    @override
    async def publish(self, cmd: SQSPublishCommand) -> str:
        """Send one message; return its SQS MessageId."""
        client, queues = self._connected()
        entries = await build_entries(
            cmd, codec=self.codec, serializer=self.serializer, single=True
        )
        check_before_sending(cmd.destination, entries)
        info = await queues.info(cmd.destination)
        check_deduplication(info, entries)
        (entry,) = entries
        if (failure := too_large(entry, info.maximum_message_size)) is not None:
            raise SQSMessageSizeError(failure.message)
        response = await client.send_message(QueueUrl=info.url, **entry.send_arguments())
        return response["MessageId"]

    @override
    async def publish_batch(self, cmd: SQSPublishCommand) -> SQSPublishBatchResult:
        """Send many messages in as few SendMessageBatch calls as fit; report every entry."""
        client, queues = self._connected()
        entries = await build_entries(cmd, codec=self.codec, serializer=self.serializer)
        check_before_sending(cmd.destination, entries)
        info = await queues.info(cmd.destination)
        check_deduplication(info, entries)

        sent: list[SQSSentEntry] = []
        failed: list[SQSFailedEntry] = []
        fitting = []
        for entry in entries:
            if (failure := too_large(entry, info.maximum_message_size)) is not None:
                failed.append(failure)
            else:
                fitting.append(entry)
        calls = pack(fitting, max_bytes=info.maximum_message_size)
        for call in calls:
            try:
                response = await client.send_message_batch(
                    QueueUrl=info.url,
                    Entries=[entry.batch_entry() for entry in call],  # type: ignore[misc]
                )
            except Exception as exc:
                failed.extend(_call_failed(call, exc))
                continue
            sent.extend(
                SQSSentEntry(
                    index=int(ok["Id"]),
                    message_id=ok["MessageId"],
                    sequence_number=ok.get("SequenceNumber"),
                )
                for ok in response.get("Successful", [])
            )
            failed.extend(
                SQSFailedEntry(
                    index=int(bad["Id"]),
                    code=bad.get("Code", "Unknown"),
                    message=bad.get("Message", ""),
                    sender_fault=bad.get("SenderFault", False),
                )
                for bad in response.get("Failed", [])
            )
            answered = {int(ok["Id"]) for ok in response.get("Successful", [])} | {
                int(bad["Id"]) for bad in response.get("Failed", [])
            }
            # An entry the response does not mention was not confirmed: report it.
            failed.extend(
                SQSFailedEntry(
                    index=entry.index,
                    code="NotConfirmed",
                    message="the response did not mention this entry",
                    sender_fault=False,
                )
                for entry in call
                if entry.index not in answered
            )
        result = SQSPublishBatchResult(
            sent=sorted(sent, key=lambda e: e.index),
            failed=sorted(failed, key=lambda e: e.index),
            calls=len(calls),
        )
        if cmd.raise_on_failure and result.failed:
            raise SQSPublishBatchError(result)
        return result

    @override
    async def request(self, cmd: SQSPublishCommand) -> Any:
        msg = "SQS has no request/reply: publish with reply_to and subscribe to the reply queue"
        raise NotImplementedError(msg)


def _call_failed(call: list[OutgoingEntry], exc: Exception) -> list[SQSFailedEntry]:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", type(exc).__name__)
        message = error.get("Message", str(exc))
        sender_fault = error.get("Type") == "Sender"
    else:
        code, message, sender_fault = type(exc).__name__, str(exc), False
    return [
        SQSFailedEntry(index=entry.index, code=code, message=message, sender_fault=sender_fault)
        for entry in call
    ]
