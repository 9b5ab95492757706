"""SQS helpers for code that talks to SQS directly, beside the broker.

- `MAX_BATCH_ENTRIES` and `chunks`: SQS's ten entries per ReceiveMessage and *Batch call;
- `receive`, `change_visibility`, `release`, `release_quietly`, `delete`: one call each
  over any number of receipt handles, their per-entry failures counted;
- `QueuePeek`: read a queue without consuming it;
- `QueueUrls`: queue names resolved to URLs once (single flight, failures not cached);
- `sqs_client`: an aiobotocore SQS client, built as `SQSBroker` builds its own.

They log through the standard `logging` module, logger ``faststream_sqs.helpers``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Final, TypeVar

from aiobotocore.session import AioSession, get_session

if TYPE_CHECKING:
    from types import TracebackType

    from aiobotocore.config import AioConfig
    from types_aiobotocore_sqs import SQSClient

__all__ = (
    "MAX_BATCH_ENTRIES",
    "QueuePeek",
    "QueueUrls",
    "change_visibility",
    "chunks",
    "delete",
    "receive",
    "release",
    "release_quietly",
    "sqs_client",
)

log = logging.getLogger(__name__)

#: SQS takes at most ten messages per ReceiveMessage and ten entries per *Batch call.
MAX_BATCH_ENTRIES: Final = 10
#: Failure codes of a visibility change or delete that mean "not held any more": the
#: message was deleted, or its visibility lapsed and someone else received it.
GONE_CODES: Final = frozenset(
    {"ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"}
)

_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int = MAX_BATCH_ENTRIES) -> list[list[_T]]:
    """`items` cut into lists of at most `size`."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


async def receive(
    sqs: SQSClient,
    url: str,
    *,
    visibility_s: int,
    wait_s: int = 0,
    max_messages: int = MAX_BATCH_ENTRIES,
) -> list[dict[str, Any]]:
    """One ReceiveMessage with every system and message attribute."""
    response = await sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max_messages,
        VisibilityTimeout=visibility_s,
        WaitTimeSeconds=wait_s,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return [dict(message) for message in response.get("Messages", [])]


async def change_visibility(sqs: SQSClient, url: str, handles: Sequence[str], seconds: int) -> int:
    """ChangeMessageVisibilityBatch over any number of handles; returns how many failed
    (handles no longer held, `GONE_CODES`, do not count)."""
    failed = 0
    for chunk in chunks(handles):
        response = await sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                for i, handle in enumerate(chunk)
            ],
        )
        for entry in response.get("Failed", []):
            if entry.get("Code") not in GONE_CODES:
                failed += 1
                log.warning("visibility change failed: %s", entry.get("Code"))
    return failed


async def release(sqs: SQSClient, url: str, handles: Sequence[str]) -> int:
    """Make held messages visible again at once; returns how many failed."""
    return await change_visibility(sqs, url, handles, 0)


async def release_quietly(sqs: SQSClient, url: str, handles: Sequence[str]) -> None:
    """Release in a ``finally``: a failure is logged, never raised over the error in flight
    (the messages reappear when their visibility lapses anyway)."""
    if not handles:
        return
    try:
        await release(sqs, url, handles)
    except Exception as exc:
        log.warning("release of %d messages failed: %r", len(handles), exc)


async def delete(sqs: SQSClient, url: str, handles: Sequence[str]) -> int:
    """DeleteMessageBatch over any number of handles; returns how many were not deleted
    (they will reappear)."""
    failed = 0
    for chunk in chunks(handles):
        response = await sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)],
        )
        for entry in response.get("Failed", []):
            failed += 1
            log.warning("delete failed: %s", entry.get("Code"))
    return failed


class QueuePeek:
    """Reads a queue without consuming it: ``async with`` it, then ``async for`` batches.

    Each iteration is one receive's messages not seen before. Everything read is held
    (invisible for `visibility_s`) until the block ends, then released at once: a FIFO
    queue hides a group while one of its messages is in flight, so holding what was read
    is how the next receive reaches other groups. Iteration stops when a receive brings
    nothing new or `deadline_s` has passed. Each receive raises a message's receive count.

        async with QueuePeek(sqs, url, visibility_s=30, deadline_s=10) as batches:
            async for messages in batches:
                ...
    """

    def __init__(
        self,
        sqs: SQSClient,
        url: str,
        *,
        visibility_s: int,
        deadline_s: float,
        wait_s: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sqs = sqs
        self._url = url
        self._visibility_s = visibility_s
        self._deadline_s = deadline_s
        self._wait_s = wait_s
        self._clock = clock
        self._deadline = 0.0
        #: Message id -> the newest receipt handle (the one SQS honours).
        self._held: dict[str, str] = {}

    @property
    def read(self) -> int:
        """Distinct messages received so far."""
        return len(self._held)

    async def __aenter__(self) -> QueuePeek:
        self._deadline = self._clock() + self._deadline_s
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await release_quietly(self._sqs, self._url, list(self._held.values()))

    def __aiter__(self) -> QueuePeek:
        return self

    async def __anext__(self) -> list[dict[str, Any]]:
        if self._clock() >= self._deadline:
            raise StopAsyncIteration
        messages = await receive(
            self._sqs, self._url, visibility_s=self._visibility_s, wait_s=self._wait_s
        )
        new = [message for message in messages if message["MessageId"] not in self._held]
        for message in messages:
            self._held[message["MessageId"]] = message["ReceiptHandle"]
        if not new:
            raise StopAsyncIteration
        return new


class QueueUrls:
    """Queue names resolved to URLs once and kept (GetQueueUrl).

    Single flight: lookups of a name made while its first GetQueueUrl is on the wire wait
    for that call. A failure is not cached: the next lookup asks again. `forget` drops a
    URL (a queue deleted and created again has a new one).
    """

    def __init__(self, sqs: SQSClient) -> None:
        self._sqs = sqs
        self._urls: dict[str, str] = {}
        self._resolving: dict[str, asyncio.Future[str]] = {}

    async def url(self, name: str) -> str:
        url = self._urls.get(name)
        if url is not None:
            return url
        pending = self._resolving.get(name)
        if pending is None:
            pending = self._resolving[name] = asyncio.ensure_future(self._resolve(name))
        return await asyncio.shield(pending)

    def forget(self, name: str) -> None:
        self._urls.pop(name, None)

    async def _resolve(self, name: str) -> str:
        try:
            url = (await self._sqs.get_queue_url(QueueName=name))["QueueUrl"]
            self._urls[name] = url
            return url
        finally:
            del self._resolving[name]


def sqs_client(
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    config: AioConfig | None = None,
    session: AioSession | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
) -> AbstractAsyncContextManager[SQSClient]:
    """An SQS client (``async with``; closed on exit). Credentials left None come from the
    environment's usual chain; `session` defaults to a new aiobotocore session."""
    client: AbstractAsyncContextManager[SQSClient] = (session or get_session()).create_client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=region_name,
        config=config,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
    )
    return client
