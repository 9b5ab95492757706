"""FIFO group rules: split batches by group, run groups concurrently, each group in order.

The rules (Powertools' ``skip_group_on_error``, applied across batches):

- Messages of one group are handled one at a time, in order, also across batches: a
  group already held locally queues a later batch's messages behind its own.
- Different groups run concurrently, at most ``max_workers`` handlers at once.
- When a message does not end its turn settled for good (a failure released it), the
  rest of its group held locally is released too, never handled out of order; messages
  of the group received after that release (the released one among them) are handled.

A standard queue is the same machine with every message its own group.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

M = TypeVar("M")


def split_by_group(
    messages: Sequence[M], *, key: Callable[[M], Hashable]
) -> dict[Hashable, list[M]]:
    """Each group's messages in batch order (SQS's order), groups by first appearance."""
    groups: dict[Hashable, list[M]] = {}
    for message in messages:
        groups.setdefault(key(message), []).append(message)
    return groups


class GroupScheduler(Generic[M]):
    """Runs submitted messages by the FIFO group rules.

    `handle(message)` processes one message and answers whether its group may go on;
    `release(messages)` gives messages back to the queue unhandled; `finished(messages)` is
    told whenever messages have left the scheduler (handled or released).
    """

    def __init__(
        self,
        *,
        max_workers: int,
        key: Callable[[M], Hashable],
        handle: Callable[[M], Awaitable[bool]],
        release: Callable[[list[M]], Awaitable[None]],
        finished: Callable[[list[M]], None] = lambda messages: None,
    ) -> None:
        self._workers = asyncio.Semaphore(max_workers)
        self._key = key
        self._handle = handle
        self._release = release
        self._finished = finished
        self._groups: dict[Hashable, deque[M]] = {}
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}
        self._current: dict[Hashable, M] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    @property
    def groups(self) -> int:
        """Groups held: running or queued."""
        return len(self._groups)

    def submit(self, batch: Sequence[M]) -> None:
        """Queue a batch: each group behind what is already held of it."""
        for key, messages in split_by_group(batch, key=self._key).items():
            queue = self._groups.get(key)
            if queue is not None:
                queue.extend(messages)
                continue
            self._groups[key] = deque(messages)
            self._idle.clear()
            self._tasks[key] = asyncio.create_task(self._run_group(key))

    def close(self) -> list[M]:
        """Start nothing more; hand back every message not yet started."""
        self._closed = True
        unstarted = [m for queue in self._groups.values() for m in queue]
        for queue in self._groups.values():
            queue.clear()
        return unstarted

    async def wait_idle(self, within_s: float | None) -> bool:
        """Wait for the running handlers to finish; False if `within_s` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), within_s)
        except TimeoutError:
            return False
        return True

    async def cancel(self) -> list[M]:
        """Cancel the handlers still running; hand back the messages they were handling."""
        interrupted = list(self._current.values())
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return interrupted

    async def _run_group(self, key: Hashable) -> None:
        queue = self._groups[key]
        try:
            while queue and not self._closed:
                async with self._workers:
                    if not queue or self._closed:
                        break
                    message = self._current[key] = queue.popleft()
                    # Only these were held behind it; whatever joins the group while it
                    # runs was received after its settlement (SQS holds a FIFO group back
                    # while one of its messages is in flight), often the failed message
                    # itself again: in order, so not released unhandled.
                    behind = len(queue)
                    try:
                        go_on = await self._handle(message)
                    except Exception:
                        # `handle` settles its own failures; should it raise anyway, the
                        # message's fate is unknown, so its group must not go on.
                        go_on = False
                    finally:
                        del self._current[key]
                        self._finished([message])
                if not go_on and behind:
                    skipped = [queue.popleft() for _ in range(behind)]
                    try:
                        await self._release(skipped)
                    finally:
                        self._finished(skipped)
        finally:
            del self._groups[key]
            del self._tasks[key]
            if not self._tasks:
                self._idle.set()
            self._finished([])
