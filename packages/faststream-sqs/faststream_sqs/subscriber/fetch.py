"""A subscriber without handlers, read on demand: `get_one()` and `async for msg in sub`.

Each fetch is one ReceiveMessage (long polling up to what is left of the timeout; the
subscriber's batch size for iteration, one message for `get_one`). Fetched messages are
not renewed by the heartbeat nor acked in batches: `ack()` deletes at once,
`nack(delay)` changes the visibility at once, `reject()` applies the reject policy.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from faststream._internal.endpoint.utils import process_msg

from faststream_sqs.helpers import receive
from faststream_sqs.settlement import ReceivedMessage
from faststream_sqs.subscriber.settler import SQSSettler

if TYPE_CHECKING:
    from collections.abc import Sequence

    from types_aiobotocore_sqs import SQSClient

    from faststream_sqs.logs import EventLog
    from faststream_sqs.message import SQSMessage
    from faststream_sqs.queue import QueueInfo
    from faststream_sqs.settlement import RejectPolicy
    from faststream_sqs.subscriber.usecase import SQSSubscriber

# SQS's longest long poll.
_MAX_WAIT_S = 20


class DirectSettler(SQSSettler):
    """Settles fetched messages with one call each (no batching, no heartbeat)."""

    def __init__(
        self,
        client: SQSClient,
        *,
        queue: QueueInfo,
        reject: RejectPolicy,
        dead_letter_queue: QueueInfo | None = None,
        log: EventLog | None = None,
    ) -> None:
        super().__init__(
            client,
            queue=queue,
            acks=cast("Any", None),
            heartbeat=cast("Any", None),
            reject=reject,
            dead_letter_queue=dead_letter_queue,
            log=log,
        )

    async def ack(self, message: ReceivedMessage) -> None:
        await self._client.delete_message(
            QueueUrl=self._queue.url, ReceiptHandle=message.receipt_handle
        )

    async def change_visibility(self, message: ReceivedMessage, timeout_s: int) -> None:
        await self._client.change_message_visibility(
            QueueUrl=self._queue.url,
            ReceiptHandle=message.receipt_handle,
            VisibilityTimeout=timeout_s,
        )

    async def release_many(self, messages: Sequence[ReceivedMessage]) -> None:
        for message in messages:
            if message.settlement is None:
                await message.nack()


async def fetch(subscriber: SQSSubscriber, *, wait_s: float | None, limit: int) -> list[SQSMessage]:
    """Up to `limit` messages, waiting at most `wait_s` seconds (None: until one comes)."""
    config = subscriber._outer_config
    client = config.client
    info = await config.queues.info(subscriber.queue)
    dead_letter_queue = (
        await config.queues.dead_letter_queue(info, subscriber.config.dlq)
        if subscriber.config.reject == "dlq"
        else None
    )
    settler = DirectSettler(
        client,
        queue=info,
        reject=subscriber.config.reject,
        dead_letter_queue=dead_letter_queue,
        log=subscriber.event_log,
    )
    loop = asyncio.get_running_loop()
    deadline = None if wait_s is None else loop.time() + wait_s
    visibility_s = subscriber.config.visibility_timeout_s or info.visibility_timeout_s
    while True:
        left = _MAX_WAIT_S if deadline is None else deadline - loop.time()
        data = await receive(
            client,
            info.url,
            visibility_s=visibility_s,
            wait_s=max(0, min(_MAX_WAIT_S, int(left))),
            max_messages=limit,
        )
        if data or (deadline is not None and loop.time() >= deadline):
            break
    parser, decoder = subscriber._get_parser_and_decoder()
    messages = []
    for item in data:
        raw = ReceivedMessage(data=item, queue=info, settler=settler)
        message = await process_msg(
            msg=raw,
            middlewares=(m(raw, context=config.context) for m in config.broker_middlewares),
            parser=parser,
            decoder=decoder,
        )
        messages.append(cast("SQSMessage", message))
    return messages
