"""An in-process reservoir of claim candidates, so concurrent handlers do not collide.

Querying StatusIndex per allocation is the expensive call (moto scans for it; DynamoDB
charges for every page), and concurrent claimers that all read "the first K available"
fight over the same items. The reservoir reads a page once, shuffles it, and hands each
candidate to one handler at a time.

Every candidate handed out is *in flight* until its handler says what happened:
``consumed`` (claimed, or found gone) or ``give_back`` (not used: the track already had a
sandbox, or the call failed). Consumed ones are remembered for a while so a lagging
(eventually consistent) index page cannot hand them out again. "No candidate" is answered
only when the index holds nothing that is neither consumed nor in flight; while some are in
flight, ``take`` waits for them to resolve — a given-back sandbox is still available, and
answering "no sandboxes" meanwhile would be a lie told because of contention.

With a shard (``CandidateShard``: this process is ``index`` of ``count`` consumers), a
refill hands out the candidates of this process's shard (a stable hash of the sandbox id)
and keeps the others only for when the whole listing holds none of its own: consumers in
different processes then claim disjoint candidates until the pool is nearly empty, and a
free sandbox of another shard is still handed out rather than answering "no sandboxes".
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from schemas.pool import Sandbox

PageFetcher = Callable[
    [str | None, int, dict[str, Any] | None],
    Awaitable[tuple[list[Sandbox], dict[str, Any] | None]],
]

#: How long a consumed candidate stays excluded from refills (well past GSI lag).
CONSUMED_TTL_S = 30.0
#: Upper bound on index pages read in one refill while looking for a fresh candidate.
MAX_PAGES_PER_REFILL = 50


@dataclass(frozen=True, slots=True)
class CandidateShard:
    """This process's share of the candidates: ids whose hash mod ``count`` is ``index``."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> CandidateShard:
        """``"i/n"`` (0 <= i < n), as in the consumer setting ``candidate_shard``."""
        index, _, count = text.partition("/")
        shard = cls(int(index), int(count))
        if not 0 <= shard.index < shard.count:
            raise ValueError(f"candidate shard {text!r}: need 0 <= index < count")
        return shard

    def owns(self, sandbox_id: str) -> bool:
        return self.count == 1 or self.of(sandbox_id) == self.index

    def of(self, sandbox_id: str) -> int:
        return _hash(sandbox_id) % self.count

    def order(self, own: list[Sandbox], rng: random.Random) -> list[Sandbox]:
        """Own candidates in the order to hand out: by hash, ascending (unsharded: shuffled)."""
        if self.count == 1:
            rng.shuffle(own)
            return own
        return sorted(own, key=lambda c: _hash(c.sandbox_id))

    def fallback(self, others: list[Sandbox]) -> list[Sandbox]:
        """When none of ours is left: one other shard's candidates, the next one after ours
        that has some, by hash descending — its owner takes them ascending, and the next
        consumer to run dry picks another shard — so the two meet only at the last ones."""
        if self.count == 1:
            return others
        by_shard: dict[int, list[Sandbox]] = {}
        for c in others:
            by_shard.setdefault(self.of(c.sandbox_id), []).append(c)
        for step in range(1, self.count):
            found = by_shard.get((self.index + step) % self.count)
            if found:
                return sorted(found, key=lambda c: _hash(c.sandbox_id), reverse=True)
        return []


def _hash(sandbox_id: str) -> int:
    return zlib.crc32(sandbox_id.encode())


@dataclass(frozen=True, slots=True)
class _EmptyRefill:
    """A refill that found no fresh candidate: its number, the generation it began in, and
    whether some listed candidates were in flight."""

    number: int
    generation: int
    pending: bool


class CandidateReservoir:
    """Hands out distinct available sandboxes, refilling from the index when empty."""

    def __init__(
        self,
        fetch_page: PageFetcher,
        *,
        page_size: int = 100,
        shard: CandidateShard | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch_page = fetch_page
        self._shard = shard or CandidateShard()
        # a page holds about page_size candidates of this shard (DynamoDB's Limit is 1000)
        self._page_size = min(page_size * self._shard.count, max(page_size, 1000))
        self._rng = rng or random.Random()  # noqa: S311 - spreading load, not security
        self._clock = clock
        self._queues: dict[str | None, deque[Sandbox]] = {}
        self._locks: dict[str | None, asyncio.Lock] = {}
        self._inflight: set[str] = set()
        self._consumed: dict[str, float] = {}
        self._resolved = asyncio.Event()
        self._generation = 0  # how many times an in-flight candidate was resolved
        self._empty: dict[str | None, _EmptyRefill] = {}  # the latest refill, if it found none
        self.refills = 0

    async def take(self, name_prefix: str | None = None) -> Sandbox | None:
        """A candidate no other handler here holds, or None when the index has none."""
        queue = self._queues.setdefault(name_prefix, deque())
        arrived = self.refills  # refills numbered from here on started after this call
        while True:
            candidate = self._pop_fresh(queue)
            if candidate is not None:
                self._inflight.add(candidate.sandbox_id)
                return candidate
            lock = self._locks.setdefault(name_prefix, asyncio.Lock())
            async with lock:
                if queue:  # another handler refilled while we waited for the lock
                    continue
                # Single flight: a refill that started after this call and found nothing
                # answers it too — the index was read after the request came. When it found
                # only candidates in flight, that holds until one of them is resolved.
                # (In a burst past the pool's size, every refused request used to make its
                # own empty Query.)
                resolved = self._resolved
                empty = self._empty.get(name_prefix)
                if empty is not None and empty.number >= arrived:
                    if not empty.pending:
                        return None
                    if empty.generation != self._generation:
                        empty = None  # something was resolved since: look again
                else:
                    empty = None
                if empty is None:
                    page, pending = await self._refill(name_prefix)
                    if page:
                        queue.extend(page)
                        continue
                    if not pending:
                        return None
            await resolved.wait()  # some candidate is in flight: see how it ends

    def consumed(self, candidate: Sandbox) -> None:
        """The candidate is no longer available (we claimed it, or someone else did)."""
        self._inflight.discard(candidate.sandbox_id)
        self._consumed[candidate.sandbox_id] = self._clock()
        self._signal()

    def give_back(self, candidate: Sandbox) -> None:
        """The candidate was not used and may still be available: offer it again."""
        self._inflight.discard(candidate.sandbox_id)
        for prefix, queue in self._queues.items():
            if prefix is None or candidate.name.startswith(prefix):
                queue.appendleft(candidate)
        self._signal()

    def _signal(self) -> None:
        self._generation += 1
        self._resolved.set()
        self._resolved = asyncio.Event()

    def _excluded(self, sandbox_id: str, now: float) -> bool:
        if sandbox_id in self._inflight:
            return True
        at = self._consumed.get(sandbox_id)
        return at is not None and now - at < CONSUMED_TTL_S

    def _pop_fresh(self, queue: deque[Sandbox]) -> Sandbox | None:
        now = self._clock()
        while queue:
            candidate = queue.popleft()
            if not self._excluded(candidate.sandbox_id, now):
                return candidate
        return None

    async def _refill(self, name_prefix: str | None) -> tuple[list[Sandbox], bool]:
        """(fresh candidates, whether some listed ones are in flight) from the index."""
        number, generation = self.refills, self._generation
        self.refills += 1
        self._empty.pop(name_prefix, None)
        fresh, pending = await self._read_index(name_prefix)
        if not fresh:
            self._empty[name_prefix] = _EmptyRefill(number, generation, pending)
        return fresh, pending

    async def _read_index(self, name_prefix: str | None) -> tuple[list[Sandbox], bool]:
        now = self._clock()
        self._consumed = {k: t for k, t in self._consumed.items() if now - t < CONSUMED_TTL_S}
        start: dict[str, Any] | None = None
        pending = False
        others: dict[str, Sandbox] = {}  # fresh, of other shards: used only if none is ours
        for _ in range(MAX_PAGES_PER_REFILL):
            items, start = await self._fetch_page(name_prefix, self._page_size, start)
            pending = pending or any(c.sandbox_id in self._inflight for c in items)
            fresh = [c for c in items if not self._excluded(c.sandbox_id, now)]
            own = [c for c in fresh if self._shard.owns(c.sandbox_id)]
            if own:
                return self._shard.order(own, self._rng), pending
            others.update((c.sandbox_id, c) for c in fresh)
            if start is None:
                break
        return self._shard.fallback(list(others.values())), pending
