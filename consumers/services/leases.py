"""Extend (v2): push a lease's ``expires_at``, never past ``allocated_at + max_lease_s``.

Owner only ((tenant, track_id) of the allocation). The write is conditional on the lease
as read (``consumers/stores/leases.py``), so a concurrent extend, release or expire makes
it read again rather than extend a lease that changed; a redelivered extend answers what
the first delivery did and never extends twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import structlog

from consumers.metrics import BrokerMetrics
from consumers.services.replies import ReplyFactory
from consumers.stores.leases import AlreadyExtended, Extended, LeaseChanged, LeaseStore
from consumers.stores.pool import ReplyAlreadyWritten, StoreConflictError
from schemas.errors import (
    LeaseLimitReachedError,
    NotSandboxOwnerError,
    SandboxError,
    SandboxNotFoundError,
)
from schemas.messages import ExtendMessage
from schemas.pool import Sandbox, SandboxStatus
from schemas.replies import ExtendResult, ReplyRecord

log = structlog.get_logger(__name__)

#: Reads of a lease that keeps changing under us before the message is retried instead.
MAX_READS: Final = 5


class LeaseService:
    def __init__(
        self,
        leases: LeaseStore,
        *,
        reply_factory: ReplyFactory,
        metrics: BrokerMetrics,
        lab_duration_s: int,
        extension_s: int,
        max_lease_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._leases = leases
        self._factory = reply_factory
        self._metrics = metrics
        self._lab_duration_s = lab_duration_s
        self._extension_s = extension_s
        self._max_lease_s = max_lease_s
        self._clock = clock

    async def extend(self, msg: ExtendMessage, *, attempts: int = 1) -> ReplyRecord:
        """The reply that stands for this extend (written once, the same on redelivery)."""
        by = msg.extend_by_s or self._extension_s
        for _ in range(MAX_READS):
            current = await self._leases.pool.get_sandbox(msg.sandbox_id)
            refusal = self._refusal(msg, current)
            if refusal is not None:
                return await self._failed(msg, refusal, attempts)
            assert current is not None
            if current.last_extend_request_id == msg.request_id:  # redelivered after the write
                return await self._succeeded(msg, current, attempts, label="idempotent")
            expires_at = self._expiry(current)
            limit = current.allocated_at + self._max_lease_s
            new = min(expires_at + by, limit)
            if new <= expires_at:
                error = LeaseLimitReachedError(
                    f"the lease of sandbox {msg.sandbox_id} already runs to its limit "
                    f"(allocated_at + {self._max_lease_s} s)"
                )
                return await self._failed(msg, error, attempts, label="limit")
            result = ExtendResult(sandbox_id=msg.sandbox_id, expires_at=new)
            record = self._record(msg, result, attempts)
            outcome = await self._leases.extend(
                current, expires_at=new, request_id=msg.request_id, now=self._clock(), reply=record
            )
            match outcome:
                case Extended():
                    self._done("success", msg, expires_at=new, capped=new == limit)
                    return record
                case AlreadyExtended(sandbox=extended):
                    return await self._succeeded(msg, extended, attempts, label="idempotent")
                case ReplyAlreadyWritten(reply=reply):
                    self._done("idempotent", msg)
                    return reply
                case LeaseChanged():
                    continue
        raise StoreConflictError(f"the lease of {msg.sandbox_id} kept changing; retry later")

    def _refusal(self, msg: ExtendMessage, current: Sandbox | None) -> SandboxError | None:
        # Unknown or another track's: one answer, as release and GET give, so an extend tells
        # a stranger nothing about which sandboxes exist.
        if (
            current is None
            or current.allocated_to_track != msg.track_id
            or current.tenant != msg.tenant
        ):
            return SandboxNotFoundError(f"sandbox {msg.sandbox_id} not found for this track")
        if current.status is not SandboxStatus.ALLOCATED:
            return NotSandboxOwnerError(
                f"sandbox {msg.sandbox_id} is no longer allocated to this track"
            )
        return None

    def _expiry(self, sandbox: Sandbox) -> float:
        """The lease's expiry (an adopted item without one: allocated_at + lab duration)."""
        if sandbox.expires_at is not None:
            return sandbox.expires_at
        return sandbox.allocated_at + self._lab_duration_s

    def _record(self, msg: ExtendMessage, result: ExtendResult, attempts: int) -> ReplyRecord:
        return self._factory.succeeded(
            request_id=msg.request_id,
            action=msg.type,
            track_id=msg.track_id,
            tenant=msg.tenant,
            result=result.model_dump(mode="json"),
            attempts=attempts,
        )

    async def _succeeded(
        self, msg: ExtendMessage, sandbox: Sandbox, attempts: int, *, label: str
    ) -> ReplyRecord:
        result = ExtendResult(
            sandbox_id=sandbox.sandbox_id, expires_at=self._expiry(sandbox), idempotent=True
        )
        stored = await self._leases.pool.replies.put(self._record(msg, result, attempts))
        self._done(label, msg)
        return stored

    async def _failed(
        self, msg: ExtendMessage, error: SandboxError, attempts: int, *, label: str | None = None
    ) -> ReplyRecord:
        record = self._factory.failed(
            request_id=msg.request_id,
            action=msg.type,
            track_id=msg.track_id,
            tenant=msg.tenant,
            error=error,
            attempts=attempts,
        )
        stored = await self._leases.pool.replies.put(record)
        self._done(label or error.code.value.lower(), msg)
        return stored

    def _done(self, label: str, msg: ExtendMessage, **fields: object) -> None:
        self._metrics.extend_total.labels(outcome=label).inc()
        log.info(
            "lease_extended" if label == "success" else "extend_answered",
            outcome=label,
            sandbox_id=msg.sandbox_id,
            **fields,
        )
