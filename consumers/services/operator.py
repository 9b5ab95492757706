"""Operator verbs on one sandbox (v2): retry a failed deletion, quarantine, force a release.

Each verb is a job on the jobs queue (group ``sandbox:<id>``, so it is serialised with the
sandbox's deletes). An unknown sandbox answers ``SANDBOX_NOT_FOUND``; a sandbox in a status
the verb does not act on answers ``INVALID_REQUEST`` naming the status and what the verb
needs. Both are failed replies (the CLI exits 2 on them), never a crash or a retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import structlog

from consumers.stores.operator import (
    QUARANTINE_FROM,
    RELEASE_FROM,
    RETRY_FROM,
    Applied,
    OperatorOutcome,
    OperatorStore,
)
from schemas.errors import InvalidRequestError, SandboxNotFoundError
from schemas.messages import ForceReleaseJob, QuarantineJob, RetryJob
from schemas.pool import SandboxStatus
from schemas.replies import JobResult

log = structlog.get_logger(__name__)

OperatorJob = RetryJob | QuarantineJob | ForceReleaseJob


def _statuses(allowed: Iterable[SandboxStatus]) -> str:
    return " or ".join(sorted(s.value for s in allowed))


class OperatorService:
    def __init__(self, store: OperatorStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def run(self, job: OperatorJob) -> JobResult:
        now = self._clock()
        rid, why = job.request_id, job.reason
        outcome: OperatorOutcome
        match job:
            case RetryJob():
                allowed, verb = RETRY_FROM, "retry"
                outcome = await self._store.retry(
                    job.sandbox_id, request_id=rid, reason=why, now=now
                )
            case QuarantineJob():
                allowed, verb = QUARANTINE_FROM, "quarantine"
                outcome = await self._store.quarantine(
                    job.sandbox_id, request_id=rid, reason=why, now=now
                )
            case ForceReleaseJob():
                allowed, verb = RELEASE_FROM, "release"
                current = await self._store.get(job.sandbox_id)
                if current is None:
                    raise SandboxNotFoundError(f"no sandbox {job.sandbox_id}")
                outcome = await self._store.force_release(
                    current, request_id=rid, reason=why, now=now
                )
        if isinstance(outcome, Applied):
            log.info(
                "operator_action",
                outcome="idempotent" if outcome.idempotent else "changed",
                sandbox_id=job.sandbox_id,
                verb=verb,
                reason=job.reason,
            )
            return JobResult(examined=1, changed=0 if outcome.idempotent else 1)
        if outcome.current is None:
            raise SandboxNotFoundError(f"no sandbox {job.sandbox_id}")
        raise InvalidRequestError(
            f"cannot {verb} sandbox {job.sandbox_id}: it is {outcome.current.status.value}; "
            f"{verb} needs {_statuses(allowed)}"
        )
