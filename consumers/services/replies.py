"""Building reply records: one place decides timestamps, attempts and TTL.

A track's reply must name its tenant (`tenant` has no default: a default once let replies
go out under the default tenant). Job replies have no track and belong to no tenant's
request: `job_succeeded` / `job_failed` write them under the default tenant.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from schemas.errors import ErrorCode, SandboxError
from schemas.ids import DEFAULT_TENANT
from schemas.replies import ReplyError, ReplyRecord, ReplyStatus


class ReplyFactory:
    def __init__(self, *, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._ttl_s = ttl_s
        self._clock = clock

    def succeeded(
        self,
        *,
        request_id: str,
        action: str,
        track_id: str | None,
        result: dict[str, Any],
        attempts: int,
        tenant: str,
    ) -> ReplyRecord:
        now = self._clock()
        return ReplyRecord(
            request_id=request_id,
            action=action,
            status=ReplyStatus.SUCCEEDED,
            result=result,
            completed_at=now,
            track_id=track_id,
            tenant=tenant,
            attempts=attempts,
            created_at=now,
            ttl=int(now + self._ttl_s),
        )

    def failed(
        self,
        *,
        request_id: str,
        action: str,
        track_id: str | None,
        error: SandboxError | ReplyError,
        attempts: int,
        tenant: str,
    ) -> ReplyRecord:
        now = self._clock()
        err = error if isinstance(error, ReplyError) else ReplyError.from_exception(error)
        return ReplyRecord(
            request_id=request_id,
            action=action,
            status=ReplyStatus.FAILED,
            error=err,
            completed_at=now,
            track_id=track_id,
            tenant=tenant,
            attempts=attempts,
            created_at=now,
            ttl=int(now + self._ttl_s),
        )

    def dead_lettered(
        self,
        *,
        request_id: str,
        action: str,
        track_id: str | None,
        attempts: int,
        reason: str,
        tenant: str,
    ) -> ReplyRecord:
        return self.failed(
            request_id=request_id,
            action=action,
            track_id=track_id,
            tenant=tenant,
            error=ReplyError(
                code=ErrorCode.DEAD_LETTERED,
                message=f"the request exhausted its retries ({reason}); an operator may replay it",
            ),
            attempts=attempts,
        )

    def job_succeeded(
        self, *, request_id: str, action: str, result: dict[str, Any], attempts: int
    ) -> ReplyRecord:
        """A job's reply: no track, so no tenant of its own."""
        return self.succeeded(
            request_id=request_id,
            action=action,
            track_id=None,
            result=result,
            attempts=attempts,
            tenant=DEFAULT_TENANT,
        )

    def job_failed(
        self, *, request_id: str, action: str, error: SandboxError | ReplyError, attempts: int
    ) -> ReplyRecord:
        """A job's failure: no track, so no tenant of its own."""
        return self.failed(
            request_id=request_id,
            action=action,
            track_id=None,
            error=error,
            attempts=attempts,
            tenant=DEFAULT_TENANT,
        )
