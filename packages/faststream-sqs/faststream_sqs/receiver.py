"""The receive loop: long-polling ReceiveMessage calls feeding a bounded local buffer.

SQS fills a FIFO batch from as few message groups as it can (often one), so a single
poller would feed one group at a time and leave the other workers idle. Several pollers
run at once instead, each reserving room for a whole batch in the buffer before it asks;
while the buffer is full nobody polls (back-pressure), so messages are never received
faster than they are handled. For a FIFO queue the buffer also counts groups: once it
holds a group for every worker and one in reserve, more receives would only wait on
groups SQS has locked for this very consumer, so none is started.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from faststream_sqs.logs import EventLog

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

# After a failed ReceiveMessage (network, throttling, credentials) a poller waits this long
# before it asks again: a dead endpoint would otherwise turn every poller into a busy loop
# of failing calls, and one second is short enough to notice a recovery almost at once.
RECEIVE_ERROR_BACKOFF_S = 1.0

# After a batch that came back short (but not empty), a poller waits this long before it
# asks again: a short batch means few messages (or few free FIFO groups) were there, and
# asking at once would fetch even fewer per call. The other pollers keep long-polling
# meanwhile, so a new message is not held back by the pause.
SHORT_BATCH_PAUSE_S = 0.05


def buffer_capacity(*, max_workers: int, batch_size: int, fifo: bool) -> int:
    """How many messages a subscriber may hold locally (handled or waiting).

    FIFO: a batch is often one group and each group runs one message at a time, so every
    worker needs a batch of its own, plus one in reserve so a worker finishing its group
    finds the next one waiting. Standard: any message can go to any worker, so the workers
    plus one batch in reserve.
    """
    if fifo:
        return (max_workers + 1) * batch_size
    return max_workers + batch_size


def poller_count(*, max_workers: int, batch_size: int, fifo: bool) -> int:
    """Concurrent ReceiveMessage calls: enough full batches to fill the buffer at once."""
    capacity = buffer_capacity(max_workers=max_workers, batch_size=batch_size, fifo=fifo)
    return math.ceil(capacity / batch_size)


class BufferGate:
    """Decides when a poller may ask SQS for another batch (back-pressure).

    A poller reserves room for a whole batch before it asks, so the messages held never
    exceed the capacity. For a FIFO queue it also counts groups: each receive in flight
    is expected to bring at least one group, so a receive starts only while the groups
    held plus the receives in flight are fewer than `groups_wanted` (a group for every
    worker and one in reserve). More would only wait on groups SQS has locked for us.
    """

    def __init__(
        self,
        capacity: int,
        *,
        groups_wanted: int | None = None,
        groups_held: Callable[[], int] = lambda: 0,
    ) -> None:
        self.capacity = capacity
        self._groups_wanted = groups_wanted
        self._groups_held = groups_held
        self._used = 0
        self._receiving = 0
        self._changed = asyncio.Event()

    @property
    def used(self) -> int:
        return self._used

    def _may_receive(self, count: int) -> bool:
        if self._used + count > self.capacity:
            return False
        if self._groups_wanted is None:
            return True
        return self._groups_held() + self._receiving < self._groups_wanted

    async def reserve(self, count: int) -> None:
        """Wait until a receive of up to `count` messages may start; count it as started."""
        while not self._may_receive(count):
            self._changed.clear()
            await self._changed.wait()
        self._used += count
        self._receiving += 1

    def received(self, unused: int) -> None:
        """A receive ended; `unused` of the messages reserved for it did not come."""
        self._receiving -= 1
        self.free(unused)

    def free(self, count: int) -> None:
        """`count` held messages left (handled or released); 0 when only groups changed."""
        self._used -= count
        self._changed.set()


class Receiver:
    """Long-polls one queue and hands each non-empty batch to `deliver`."""

    def __init__(
        self,
        client: SQSClient,
        *,
        queue_url: str,
        batch_size: int,
        wait_time_s: int,
        visibility_timeout_s: int,
        gate: BufferGate,
        deliver: Callable[[list[dict[str, Any]]], None],
        running: Callable[[], bool],
        log: EventLog | None = None,
    ) -> None:
        self._client = client
        self._log = log or EventLog()
        self._queue_url = queue_url
        self._batch_size = batch_size
        self._wait_time_s = wait_time_s
        self._visibility_timeout_s = visibility_timeout_s
        self._gate = gate
        self._deliver = deliver
        self._running = running
        self._in_call: set[asyncio.Task[Any] | None] = set()

    def stop(self, pollers: list[asyncio.Task[None]]) -> list[asyncio.Task[None]]:
        """Stop polling: cancel the pollers between calls; return those with a call out.

        A long poll cancelled on the client may still take messages on the server and
        hand them to a closed connection, where they stay hidden until their visibility
        lapses. So a call on the wire is let finish; its poller delivers what it brings
        and ends (the subscriber, stopping, releases it).
        """
        busy = [task for task in pollers if task in self._in_call]
        for task in pollers:
            if task not in self._in_call:
                task.cancel()
        return busy

    async def poll(self) -> None:
        """One poller: reserve room for a batch, receive, deliver; until stopped."""
        me = asyncio.current_task()
        while self._running():
            await self._gate.reserve(self._batch_size)
            unused = self._batch_size
            messages: list[dict[str, Any]] | None = []
            try:
                if not self._running():
                    return
                self._in_call.add(me)
                try:
                    messages = await self._receive()
                finally:
                    self._in_call.discard(me)
                if messages is None:
                    await asyncio.sleep(RECEIVE_ERROR_BACKOFF_S)
                    continue
                if messages:
                    unused -= len(messages)
                    self._deliver(messages)
            finally:
                self._gate.received(unused)
            if messages and len(messages) < self._batch_size:
                await asyncio.sleep(SHORT_BATCH_PAUSE_S)

    async def _receive(self) -> list[dict[str, Any]] | None:
        try:
            response = await self._client.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=self._batch_size,
                WaitTimeSeconds=self._wait_time_s,
                VisibilityTimeout=self._visibility_timeout_s,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except Exception as exc:
            self._log.error("receive_failed", queue_url=self._queue_url, error=repr(exc))
            return None
        return [dict(message) for message in response.get("Messages", [])]
