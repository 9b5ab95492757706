"""Allocate and release: one active sandbox per track, never one sandbox for two tracks.

The FIFO group (track_id) serialises a track's own requests; different tracks run in
parallel and meet only on candidates. Idempotency comes from the track pointer, written in
the same transaction as the claim and read strongly consistent — never from a GSI.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from consumers.metrics import BrokerMetrics
from consumers.services.replies import ReplyFactory
from consumers.services.reservoir import CandidateReservoir
from consumers.stores.pool import (
    CandidateGone,
    Claimed,
    PoolStore,
    Released,
    ReleaseRefused,
    ReplyAlreadyWritten,
    StoreConflictError,
    TrackAlreadyHasSandbox,
    TrackPointer,
)
from schemas.errors import NoSandboxesAvailableError, NotSandboxOwnerError, SandboxNotFoundError
from schemas.messages import AllocateMessage, ReleaseMessage
from schemas.pool import SandboxStatus
from schemas.replies import AllocateResult, ReleaseResult, ReplyRecord, ReplyStatus

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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._reservoir = reservoir
        self._reply_factory = reply_factory
        self._metrics = metrics
        self._lab_duration_s = lab_duration_s
        self._clock = clock

    async def allocate(self, msg: AllocateMessage, *, attempts: int = 1) -> ReplyRecord:
        """Claim a sandbox for the track (or return the one it has); the reply that stands."""
        started = time.perf_counter()
        outcome = "error"
        try:
            reply, outcome = await self._allocate(msg, attempts)
            return reply
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.allocate_total.labels(outcome=outcome).inc()
            self._metrics.allocation_latency.labels(outcome=outcome).observe(elapsed)

    async def _allocate(self, msg: AllocateMessage, attempts: int) -> tuple[ReplyRecord, str]:
        started = time.perf_counter()
        lost = 0  # claims that lost a race for their candidate (logged with the outcome)
        while True:
            candidate = await self._reservoir.take(msg.name_prefix)
            if candidate is None:
                # The index has none; the track may still hold one (allocate is idempotent):
                # the refusal is written only if the track has no pointer (one transaction).
                record = self._reply_factory.failed(
                    request_id=msg.request_id,
                    action=msg.type,
                    track_id=msg.track_id,
                    error=NoSandboxesAvailableError(
                        "no sandbox is available"
                        + (f" with name prefix {msg.name_prefix!r}" if msg.name_prefix else "")
                    ),
                    attempts=attempts,
                )
                match await self._pool.refuse(msg.track_id, reply=record):
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
                result=result.model_dump(mode="json"),
                attempts=attempts,
            )
            try:
                claim = await self._pool.claim(
                    candidate,
                    track_id=msg.track_id,
                    track_name=msg.track_name,
                    request_id=msg.request_id,
                    idempotency_key=msg.idempotency_key,
                    allocated_at=result.allocated_at,
                    expires_at=result.expires_at,
                    reply=record,
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
                    log.info(
                        "sandbox_allocated",
                        outcome="success",
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
            result=ReleaseResult(sandbox_id=msg.sandbox_id).model_dump(mode="json"),
            attempts=attempts,
        )
        outcome = await self._pool.release(
            msg.sandbox_id, track_id=msg.track_id, now=self._clock(), reply=record
        )
        match outcome:
            case Released():
                stored, label = record, "success"
            case ReplyAlreadyWritten(reply=reply):
                stored, label = reply, "idempotent"
            case ReleaseRefused(current=current):
                if current is None:
                    answer = self._reply_factory.failed(
                        request_id=msg.request_id,
                        action=msg.type,
                        track_id=msg.track_id,
                        error=SandboxNotFoundError(f"sandbox {msg.sandbox_id} does not exist"),
                        attempts=attempts,
                    )
                    label = "not_found"
                elif (
                    current.allocated_to_track == msg.track_id
                    and current.status in RELEASED_STATUSES
                ):
                    answer = self._reply_factory.succeeded(
                        request_id=msg.request_id,
                        action=msg.type,
                        track_id=msg.track_id,
                        result=ReleaseResult(sandbox_id=msg.sandbox_id, idempotent=True).model_dump(
                            mode="json"
                        ),
                        attempts=attempts,
                    )
                    label = "idempotent"
                else:
                    answer = self._reply_factory.failed(
                        request_id=msg.request_id,
                        action=msg.type,
                        track_id=msg.track_id,
                        error=NotSandboxOwnerError(
                            f"sandbox {msg.sandbox_id} is not allocated to this track"
                        ),
                        attempts=attempts,
                    )
                    label = "not_owner"
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
