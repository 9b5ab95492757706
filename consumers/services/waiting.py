"""The waiter pump (v2): serves waiting allocations oldest first, answers them at deadline.

An allocate with ``X-Wait-For-Sandbox-S`` that finds no sandbox leaves a waiter item in
the pool table (``consumers/stores/waiters.py``) and its SQS message is acknowledged: no
FIFO group and no worker is held while it waits. Each consumer runs one pump: every
``interval_s`` (sooner when this consumer stored a waiter or finished a sync, and always
by the earliest deadline) it reads the waiters oldest first and, for each:

- past its deadline: one transaction writes ``NO_SANDBOXES_AVAILABLE`` and deletes it;
- else: the normal claim, with the waiter's conditional Delete in the claim transaction,
  so of several pumps exactly one serves it (the other's claim is refused whole and its
  candidate goes back); once none is available for a name prefix, the younger waiters
  for it are not tried in this pass (they would not get one: the order stays fair).

While a pass has left waiters unserved, a new allocate that may wait joins the list
behind them rather than claiming a sandbox that has just come back (one that may not wait
still claims at once: it asked not to be queued).

Everything is in DynamoDB, so a consumer killed mid-wait loses nothing: another pump (or
the restarted one) serves the waiter. Order: by ``requested_at`` (then request id) among
the waiters stored when a pass reads them; a request whose waiter is not yet written (its
message still in SQS) can be overtaken by a younger one for that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from consumers.metrics import BrokerMetrics
from consumers.services.allocation import AllocationService
from consumers.services.replies import ReplyFactory
from consumers.stores.replies import ReplyStore
from consumers.stores.waiters import Waiter, WaiterStore
from schemas.errors import NoSandboxesAvailableError

log = structlog.get_logger(__name__)

#: The shortest pause between passes (a deadline due now is answered after this at most).
MIN_PAUSE_S = 0.05


class WaiterPump:
    def __init__(
        self,
        waiters: WaiterStore,
        allocation: AllocationService,
        *,
        replies: ReplyStore,
        reply_factory: ReplyFactory,
        metrics: BrokerMetrics,
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._waiters = waiters
        self._allocation = allocation
        self._replies = replies
        self._factory = reply_factory
        self._metrics = metrics
        self._interval_s = interval_s
        self._clock = clock
        self._wake = asyncio.Event()
        #: The last pass left waiters it could not serve (new waiting requests queue behind).
        self.waiters_ahead = False

    def wake(self) -> None:
        """Look again now (a waiter was stored, or a sync may have added sandboxes)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Passes until ``stop``; a failed pass is logged and the next one follows."""
        while not stop.is_set():
            self._wake.clear()
            earliest: float | None = None
            served = 0
            try:
                served, earliest = await self.serve()
            except Exception as exc:
                log.exception("waiter_pump_failed", error=repr(exc))
            if served:
                continue  # sandboxes came back: there may be more, look again at once
            pause = self._interval_s
            if earliest is not None:
                pause = min(pause, max(earliest - self._clock(), MIN_PAUSE_S))
            wake = asyncio.ensure_future(self._wake.wait())
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({wake, stopped}, timeout=pause, return_when="FIRST_COMPLETED")
            finally:
                for task in (wake, stopped):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def serve(self) -> tuple[int, float | None]:
        """One pass, oldest first: (waiters given a sandbox, earliest deadline still open)."""
        exhausted: set[str | None] = set()
        earliest: float | None = None
        served = left = 0
        async for waiter in self._waiters.oldest():
            prefix = waiter.message.name_prefix
            if self._clock() < waiter.deadline and (None in exhausted or prefix in exhausted):
                earliest = _min(earliest, waiter.deadline)
                left += 1
                continue
            try:
                outcome = await self._one(waiter)
            except Exception as exc:  # one waiter's failure must not starve those behind it
                log.exception(
                    "waiter_failed", request_id=waiter.message.request_id, error=repr(exc)
                )
                outcome = "failed"
            if outcome in {"no_sandboxes", "failed"}:
                if outcome == "no_sandboxes":
                    exhausted.add(prefix)
                earliest = _min(earliest, waiter.deadline)
                left += 1
            served += outcome == "success"
        self.waiters_ahead = earliest is not None
        self._metrics.waiters_waiting.set(left)
        return served, earliest

    async def _one(self, waiter: Waiter) -> str:
        """Answer a waiter at its deadline, or try to serve it: what happened."""
        if self._clock() >= waiter.deadline:
            await self._time_out(waiter)
            return "timed_out"
        reply, outcome = await self._allocation.serve_waiter(waiter)
        if outcome in {"no_sandboxes", "waiter_gone"}:
            return outcome
        if outcome == "success":
            self._metrics.waiters.labels(outcome="served").inc()
        else:  # answered without this claim (its track had a sandbox, or a reply stood)
            await self._waiters.remove(waiter)
        log.info(
            "waiter_served",
            outcome=outcome,
            request_id=waiter.message.request_id,
            track_id=waiter.message.track_id,
            waited_s=round(self._clock() - waiter.message.requested_at.timestamp(), 3),
            sandbox_id=(reply.result or {}).get("sandbox_id") if reply else None,
        )
        return outcome

    async def _time_out(self, waiter: Waiter) -> None:
        msg = waiter.message
        record = self._factory.failed(
            request_id=msg.request_id,
            action=msg.type,
            track_id=msg.track_id,
            tenant=msg.tenant,
            error=NoSandboxesAvailableError(
                f"no sandbox became available within {msg.wait_for_sandbox_s} s"
                + (f" with name prefix {msg.name_prefix!r}" if msg.name_prefix else "")
            ),
            attempts=1,
        )
        if await self._waiters.answer(waiter, self._replies.put_transact_item(record)):
            self._metrics.waiters.labels(outcome="timed_out").inc()
            self._metrics.replies_total.labels(
                action=msg.type, status="failed", code="NO_SANDBOXES_AVAILABLE"
            ).inc()
            log.info(
                "waiter_timed_out",
                outcome="no_sandboxes",
                request_id=msg.request_id,
                track_id=msg.track_id,
            )


def _min(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)
