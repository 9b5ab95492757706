"""Acks batched into DeleteMessageBatch calls, with per-entry failures retried.

Deleting one message per call would double the API calls per message. Acks are queued and
sent in batches of ten (SQS's limit), or after a few milliseconds when fewer are waiting;
the `Failed` list of every response is checked and the entries SQS failed on its side are
sent again.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from faststream_sqs.helpers import MAX_BATCH_ENTRIES, chunks
from faststream_sqs.logs import EventLog

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

# How long an ack waits for company before its batch is sent anyway. When idle, a lone ack
# is not held back for long (the message stays invisible meanwhile, so the wait costs
# nothing but latency, and on a FIFO queue the delay before the group's next message).
# At 20 ms, handlers that finish one after another (their DynamoDB writes serialised)
# filled batches of one or two: ~0.6-0.9 DeleteMessageBatch per message in a burst.
ACK_FLUSH_AFTER_S = 0.05

# A delete that SQS failed on its side (or a failed call) is sent again up to this many
# times in all, with doubling backoff; after that the message is left to reappear when
# its visibility lapses (at-least-once delivery, never a silent loss).
ACK_MAX_ATTEMPTS = 5
ACK_RETRY_BACKOFF_S = 0.1


@dataclass(slots=True)
class _Entry:
    receipt_handle: str
    attempt: int = 1


class AckBatcher:
    """Queues acks of one queue and deletes them in batches; `close()` flushes them all."""

    def __init__(
        self,
        client: SQSClient,
        *,
        queue_url: str,
        flush_after_s: float = ACK_FLUSH_AFTER_S,
        log: EventLog | None = None,
    ) -> None:
        self._client = client
        self._log = log or EventLog()
        self._queue_url = queue_url
        self._flush_after_s = flush_after_s
        self._pending: list[_Entry] = []
        self._has_pending = asyncio.Event()
        self._full = asyncio.Event()
        self._sends: set[asyncio.Task[None]] = set()
        self._retries: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def idle(self) -> bool:
        """Nothing queued, being sent or waiting for a retry."""
        return not (self._pending or self._sends or self._retries)

    def add(self, receipt_handle: str) -> None:
        """Queue the delete of one message; returns at once."""
        self._put(_Entry(receipt_handle))

    def _put(self, entry: _Entry) -> None:
        self._pending.append(entry)
        self._has_pending.set()
        if len(self._pending) >= MAX_BATCH_ENTRIES or self._closing:
            self._full.set()

    async def run(self) -> None:
        """Collect acks and send them; runs until cancelled."""
        while True:
            await self._has_pending.wait()
            if len(self._pending) < MAX_BATCH_ENTRIES and not self._closing:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._flush_after_s)
            self._flush()

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self._has_pending.clear()
        self._full.clear()
        for entries in chunks(batch):
            task = asyncio.create_task(self._send(entries))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def close(self) -> None:
        """Send every queued ack (retries included) and wait until all calls are done."""
        self._closing = True
        while not self.idle:
            if self._pending:
                self._flush()
            await asyncio.gather(*self._sends, *self._retries, return_exceptions=True)

    async def _send(self, entries: list[_Entry]) -> None:
        request = [
            {"Id": str(i), "ReceiptHandle": entry.receipt_handle} for i, entry in enumerate(entries)
        ]
        try:
            response = await self._client.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=request,  # type: ignore[arg-type]
            )
        except Exception as exc:
            self._log.warning("ack_batch_failed", queue_url=self._queue_url, error=repr(exc))
            retry = entries
        else:
            retry = []
            for failed in response.get("Failed", []):
                entry = entries[int(failed["Id"])]
                if failed.get("SenderFault", False):
                    # The request itself was wrong for this entry (e.g. an expired
                    # receipt handle): sending it again cannot succeed.
                    self._log.warning(
                        "ack_failed",
                        queue_url=self._queue_url,
                        code=failed.get("Code"),
                        error=failed.get("Message"),
                    )
                else:
                    retry.append(entry)
        for entry in retry:
            self._retry_later(entry)

    def _retry_later(self, entry: _Entry) -> None:
        if entry.attempt >= ACK_MAX_ATTEMPTS:
            self._log.error("ack_given_up", queue_url=self._queue_url, attempts=entry.attempt)
            return
        task = asyncio.create_task(self._requeue(entry))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _requeue(self, entry: _Entry) -> None:
        await asyncio.sleep(ACK_RETRY_BACKOFF_S * 2 ** (entry.attempt - 1))
        entry.attempt += 1
        self._put(entry)
