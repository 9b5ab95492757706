"""Allocate and release: one active sandbox per track, never one sandbox for two tracks.

The FIFO group (track_id) serialises a track's own requests; different tracks run in
parallel and meet only on candidates. Idempotency comes from the track pointer, written in
the same transaction as the claim and read strongly consistent — never from a GSI.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog

from consumers.metrics import BrokerMetrics
from consumers.services.replies import ReplyFactory
from consumers.services.reservoir import CandidateReservoir
from consumers.stores.pool import (
    CandidateGone,
    Claimed,
    ExtraRefused,
    PoolStore,
    Released,
    ReleaseRefused,
    ReplyAlreadyWritten,
    StoreConflictError,
    TrackAlreadyHasSandbox,
    TrackPointer,
)
from consumers.stores.waiters import Waiter, WaiterStore
from schemas.errors import (
    NoSandboxesAvailableError,
    QuotaExceededError,
    SandboxNotFoundError,
)
from schemas.messages import AllocateMessage, ReleaseMessage
from schemas.pool import Sandbox, SandboxStatus
from schemas.replies import AllocateResult, ReleaseResult, ReplyRecord, ReplyStatus
from schemas.tenants import TenantConfig

#: A tenant's config by name (the consumer's cached ``TenantDirectory.config``).
TenantLookup = Callable[[str], Awaitable[TenantConfig | None]]

log = structlog.get_logger(__name__)

#: Statuses in which a release by the former owner is already done (idempotent success).
RELEASED_STATUSES = frozenset({SandboxStatus.PENDING_DELETION, SandboxStatus.DELETION_FAILED})


class AllocationService:
    def __init__(
        self,
        pool: PoolStore,
        *,
        reservoir: CandidateReservoir,
        reply_factory: ReplyFactory,
        metrics: BrokerMetrics,
        lab_duration_s: int,
        tenants: TenantLookup | None = None,
        clock: Callable[[], float] = time.time,
        waiters: WaiterStore | None = None,
        on_waiter: Callable[[], None] | None = None,
        waiters_ahead: Callable[[], bool] | None = None,
    ) -> None:
        """``waiters`` (v2): where an allocate that may wait is stored when none is
        available (None: it is answered NO_SANDBOXES_AVAILABLE at once); ``on_waiter`` is
        told each time one is stored (the waiter pump looks again); while
        ``waiters_ahead()`` (the pump's last pass left waiters unserved), an allocate that
        may wait queues behind them instead of claiming first."""
        self._tenants = tenants
        self._waiters = waiters
        self._on_waiter = on_waiter
        self._waiters_ahead = waiters_ahead
        self._pool = pool
        self._reservoir = reservoir
        self._reply_factory = reply_factory
        self._metrics = metrics
        self._lab_duration_s = lab_duration_s
        self._clock = clock

    async def allocate(self, msg: AllocateMessage, *, attempts: int = 1) -> ReplyRecord | None:
        """Claim a sandbox for the track (or return the one it has); the reply that stands.

        None (v2): none is available and the request may wait: its waiter is durable and
        the waiter pump answers it (``serve_waiter``), so the message may be acknowledged.
        """
        reply, _ = await self._measured(msg, attempts, None)
        return reply

    async def serve_waiter(self, waiter: Waiter) -> tuple[ReplyRecord | None, str]:
        """Try to claim for a waiter (the waiter's Delete joins the claim's transaction).

        (reply, "success" | "idempotent"): answered (on "idempotent" the caller removes the
        waiter); (None, "no_sandboxes"): still none available; (None, "waiter_gone"):
        another pump served it first.
        """
        started = time.perf_counter()
        reply, outcome = await self._allocate(waiter.message, 1, waiter)
        if reply is not None:  # a pass that finds none is not an allocation attempt
            self._metrics.allocate_total.labels(outcome=outcome).inc()
            self._metrics.allocation_latency.labels(outcome=outcome).observe(
                time.perf_counter() - started
            )
        return reply, outcome

    async def _measured(
        self, msg: AllocateMessage, attempts: int, waiter: Waiter | None
    ) -> tuple[ReplyRecord | None, str]:
        started = time.perf_counter()
        outcome = "error"
        try:
            reply, outcome = await self._allocate(msg, attempts, waiter)
            return reply, outcome
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.allocate_total.labels(outcome=outcome).inc()
            self._metrics.allocation_latency.labels(outcome=outcome).observe(elapsed)

    async def _quota_refusal(
        self, msg: AllocateMessage, config: TenantConfig | None, attempts: int
    ) -> tuple[ReplyRecord, str] | None:
        """At ``max_active`` (v2): the track's own sandbox if it has one, else QUOTA_EXCEEDED.

        The count is a consistent COUNT Query on the tenant's lease markers, read before the
        claim: concurrent claims of one tenant may each read the same count, so the quota is
        overshot by at most the claims in flight at that moment (the contract's bound).
        """
        if config is None or config.max_active is None:
            return None
        pointer = await self._pool.get_pointer(msg.track_id, tenant=msg.tenant)
        if pointer is not None:
            return await self._existing(msg, pointer, attempts), "idempotent"
        active = await self._pool.count_active(msg.tenant)
        if active < config.max_active:
            return None
        record = self._reply_factory.failed(
            request_id=msg.request_id,
            action=msg.type,
            track_id=msg.track_id,
            tenant=msg.tenant,
            error=QuotaExceededError(
                f"tenant {msg.tenant} holds {active} of its {config.max_active} sandboxes"
            ),
            attempts=attempts,
        )
        stored = await self._pool.replies.put(record)
        log.info("allocation_refused", outcome="quota_exceeded", tenant=msg.tenant)
        return stored, "quota_exceeded"

    async def _take(self, msg: AllocateMessage, config: TenantConfig | None) -> Sandbox | None:
        """A candidate within the request's prefix, else within one of the tenant's."""
        if msg.name_prefix is not None or config is None or not config.prefixes:
            return await self._reservoir.take(msg.name_prefix)
        for prefix in config.prefixes:
            candidate = await self._reservoir.take(prefix)
            if candidate is not None:
                return candidate
        return None

    async def _allocate(
        self, msg: AllocateMessage, attempts: int, waiter: Waiter | None = None
    ) -> tuple[ReplyRecord | None, str]:
        started = time.perf_counter()
        config = await self._tenants(msg.tenant) if self._tenants is not None else None
        refused = await self._quota_refusal(msg, config, attempts)
        if refused is not None:
            return refused
        # fair: while others wait, one that may wait queues behind them
        ahead = waiter is None and self._waiters_ahead is not None and self._waiters_ahead()
        if ahead and await self._wait(msg):
            log.info("allocation_waiting", outcome="queued", **_ms(started))
            return None, "waiting"
        lost = 0  # claims that lost a race for their candidate (logged with the outcome)
        while True:
            candidate = await self._take(msg, config)
            if candidate is None:
                # The index has none; the track may still hold one (allocate is idempotent).
                if waiter is not None or (self._waiters is not None and msg.wait_for_sandbox_s):
                    pointer = await self._pool.get_pointer(msg.track_id, tenant=msg.tenant)
                    if pointer is not None:
                        return await self._existing(msg, pointer, attempts), "idempotent"
                    if waiter is not None:
                        return None, "no_sandboxes"
                    if await self._wait(msg):
                        log.info("allocation_waiting", outcome="waiting", **_ms(started))
                        return None, "waiting"
                # Otherwise the refusal is written only if the track has no pointer (one
                # transaction, no pointer read first).
                record = self._reply_factory.failed(
                    request_id=msg.request_id,
                    action=msg.type,
                    track_id=msg.track_id,
                    tenant=msg.tenant,
                    error=NoSandboxesAvailableError(
                        "no sandbox is available"
                        + (f" with name prefix {msg.name_prefix!r}" if msg.name_prefix else "")
                    ),
                    attempts=attempts,
                )
                match await self._pool.refuse(msg.track_id, reply=record, tenant=msg.tenant):
                    case TrackAlreadyHasSandbox(pointer=pointer):
                        return await self._existing(msg, pointer, attempts), "idempotent"
                    case ReplyAlreadyWritten(reply=reply):
                        log.info("reply_already_written", outcome=reply.status.value)
                        return reply, "idempotent"
                log.info(
                    "allocation_refused", outcome="no_sandboxes", conflicts=lost, **_ms(started)
                )
                return record, "no_sandboxes"
            now = self._clock()
            result = AllocateResult(
                sandbox_id=candidate.sandbox_id,
                name=candidate.name,
                external_id=candidate.external_id,
                allocated_at=now,
                expires_at=now + self._lab_duration_s,
            )
            record = self._reply_factory.succeeded(
                request_id=msg.request_id,
                action=msg.type,
                track_id=msg.track_id,
                tenant=msg.tenant,
                result=result.model_dump(mode="json"),
                attempts=attempts,
            )
            try:
                claim = await self._pool.claim(
                    candidate,
                    tenant=msg.tenant,
                    track_id=msg.track_id,
                    track_name=msg.track_name,
                    request_id=msg.request_id,
                    idempotency_key=msg.idempotency_key,
                    allocated_at=result.allocated_at,
                    expires_at=result.expires_at,
                    reply=record,
                    extra=[self._waiters.delete_item(waiter)] if self._waiters and waiter else (),
                )
            except StoreConflictError:
                self._reservoir.give_back(candidate)
                self._metrics.allocate_conflicts.inc()
                lost += 1
                continue
            except BaseException:
                self._reservoir.give_back(candidate)
                raise
            match claim:
                case Claimed():
                    self._reservoir.consumed(candidate)
                    self._metrics.tenant_allocations.labels(tenant=msg.tenant).inc()
                    log.info(
                        "sandbox_allocated",
                        outcome="success",
                        tenant=msg.tenant,
                        sandbox_id=candidate.sandbox_id,
                        conflicts=lost,
                        **_ms(started),
                    )
                    return record, "success"
                case CandidateGone():
                    self._reservoir.consumed(candidate)
                    self._metrics.allocate_conflicts.inc()
                    lost += 1
                case TrackAlreadyHasSandbox(pointer=pointer):
                    self._reservoir.give_back(candidate)
                    return await self._existing(msg, pointer, attempts), "idempotent"
                case ReplyAlreadyWritten(reply=reply):
                    self._reservoir.give_back(candidate)
                    log.info("reply_already_written", outcome=reply.status.value)
                    return reply, "idempotent"
                case ExtraRefused():
                    self._reservoir.give_back(candidate)
                    return None, "waiter_gone"

    async def _wait(self, msg: AllocateMessage) -> bool:
        """Store a waiter for ``msg`` if it may wait and its wait has not ended."""
        if self._waiters is None or msg.wait_for_sandbox_s <= 0:
            return False
        if self._clock() >= msg.requested_at.timestamp() + msg.wait_for_sandbox_s:
            return False
        await self._waiters.add(msg)
        self._metrics.waiters.labels(outcome="waiting").inc()
        if self._on_waiter is not None:
            self._on_waiter()
        return True

    async def _existing(
        self, msg: AllocateMessage, pointer: TrackPointer, attempts: int
    ) -> ReplyRecord:
        """Answer with the track's current sandbox and its original allocated_at."""
        repeat = pointer.request_id != msg.request_id
        if repeat:
            self._metrics.allocate_idempotent_hits.inc()
        result = AllocateResult(
            sandbox_id=pointer.sandbox_id,
            name=pointer.name,
            external_id=pointer.external_id,
            allocated_at=pointer.allocated_at,
            expires_at=pointer.expires_at,
            idempotent=repeat,
        )
        record = self._reply_factory.succeeded(
            request_id=msg.request_id,
            action=msg.type,
            track_id=msg.track_id,
            tenant=msg.tenant,
            result=result.model_dump(mode="json"),
            attempts=attempts,
        )
        stored = await self._pool.replies.put(record)
        log.info("sandbox_allocated", outcome="idempotent", sandbox_id=pointer.sandbox_id)
        return stored

    async def release(self, msg: ReleaseMessage, *, attempts: int = 1) -> ReplyRecord:
        """Owner-only, idempotent: allocated → pending_deletion and the pointer cleared."""
        started = time.perf_counter()
        record = self._reply_factory.succeeded(
            request_id=msg.request_id,
            action=msg.type,
            track_id=msg.track_id,
            tenant=msg.tenant,
            result=ReleaseResult(sandbox_id=msg.sandbox_id).model_dump(mode="json"),
            attempts=attempts,
        )
        outcome = await self._pool.release(
            msg.sandbox_id,
            track_id=msg.track_id,
            tenant=msg.tenant,
            now=self._clock(),
            reply=record,
        )
        match outcome:
            case Released():
                stored, label = record, "success"
            case ReplyAlreadyWritten(reply=reply):
                stored, label = reply, "idempotent"
            case ReleaseRefused(current=current):
                if (
                    current is not None
                    and current.allocated_to_track == msg.track_id
                    and current.tenant == msg.tenant
                    and current.status in RELEASED_STATUSES
                ):
                    answer = self._reply_factory.succeeded(
                        request_id=msg.request_id,
                        action=msg.type,
                        track_id=msg.track_id,
                        tenant=msg.tenant,
                        result=ReleaseResult(sandbox_id=msg.sandbox_id, idempotent=True).model_dump(
                            mode="json"
                        ),
                        attempts=attempts,
                    )
                    label = "idempotent"
                else:
                    # Unknown or another track's: one answer, so a release tells a stranger
                    # no more than GET /v1/sandboxes/{id} does (404 for both).
                    answer = self._reply_factory.failed(
                        request_id=msg.request_id,
                        action=msg.type,
                        track_id=msg.track_id,
                        tenant=msg.tenant,
                        error=SandboxNotFoundError(
                            f"sandbox {msg.sandbox_id} not found for this track"
                        ),
                        attempts=attempts,
                    )
                    label = "not_found" if current is None else "not_owner"
                stored = await self._pool.replies.put(answer)
        self._metrics.mark_for_deletion_total.labels(outcome=label).inc()
        log.info(
            "sandbox_released" if stored.status is ReplyStatus.SUCCEEDED else "release_refused",
            outcome=label,
            sandbox_id=msg.sandbox_id,
            **_ms(started),
        )
        return stored


def _ms(started: float) -> dict[str, float]:
    return {"latency_ms": round((time.perf_counter() - started) * 1000, 2)}
