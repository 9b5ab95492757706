"""Maintenance jobs: expire, delete_stale, sync, cleanup and delete_sandbox.

Each job reads through Query (never Scan), changes state only with conditional writes, and
returns a ``JobResult`` (examined, changed, failed) that the handler writes as the reply.
A CSP outage is an outcome (``UPSTREAM_UNAVAILABLE``), not a crash: nothing changes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from consumers.stores.pool import PoolStore
from schemas.errors import UpstreamUnavailableError
from schemas.messages import DeleteSandboxJob
from schemas.pool import Sandbox, SandboxStatus
from schemas.replies import JobResult

log = structlog.get_logger(__name__)


class CspAccount(Protocol):
    """What the jobs need of one CSP account."""

    @property
    def sandbox_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def external_id(self) -> str: ...
    @property
    def sfdc_account_id(self) -> str | None: ...
    @property
    def is_usable(self) -> bool: ...


class CspApi(Protocol):
    async def list_accounts(self) -> Sequence[CspAccount]: ...
    async def delete_account(self, account_id: str) -> object: ...


#: Exceptions that mean "the CSP cannot answer now" (set by the app from the CSP client).
UpstreamErrors = tuple[type[BaseException], ...]

#: Publishes delete_sandbox jobs; returns how many could not be sent.
PublishDeletes = Callable[[list[DeleteSandboxJob]], Awaitable[int]]


@dataclass
class JobSettings:
    expiry_after_s: int
    stale_grace_s: int
    max_deletion_retries: int
    #: v2: expire acts on ``expires_at`` + this buffer (an extended lease runs longer).
    expiry_buffer_s: int = 1800
    #: The expiry of an adopted allocation without ``expires_at``: allocated_at + this.
    lab_duration_s: int = 4 * 3600
    #: v2: consecutive failed deletes (across messages) after which a sandbox is quarantined.
    quarantine_after: int = 5
    #: First retry delay of a failed CSP delete within one message's life.
    delete_retry_base_s: int = 30
    #: Backoff for items that became deletion_failed, retried by later cleanups.
    failed_retry_base_s: int = 3600
    failed_retry_cap_s: int = 86_400


class JobService:
    def __init__(
        self,
        pool: PoolStore,
        *,
        csp: CspApi,
        upstream_errors: UpstreamErrors,
        settings: JobSettings,
        on_sync: Callable[[int, int], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._on_sync = on_sync  # (synced, stale) counts, for metrics
        self._pool = pool
        self._csp = csp
        self._upstream_errors = upstream_errors
        self._settings = settings
        self._clock = clock

    async def expire(self) -> JobResult:
        """Leases past ``expires_at`` + buffer → pending_deletion (pointer cleared).

        v2: the lease's own ``expires_at`` decides (an extend moves it), read from the item
        and pinned by the write's condition, so an extend that lands first wins and this
        one is a no-op. The index is read only for allocations at least a buffer old (no
        lease can be overdue sooner); those not yet overdue are skipped, not counted.
        """
        now = self._clock()
        settings = self._settings
        examined = changed = 0
        async for sandbox in self._pool.query_status(
            SandboxStatus.ALLOCATED, before=now - settings.expiry_buffer_s
        ):
            expires_at = sandbox.expires_at
            if expires_at is None:
                expires_at = sandbox.allocated_at + settings.lab_duration_s
            if now < expires_at + settings.expiry_buffer_s:
                continue
            examined += 1
            if await self._pool.expire(sandbox, now=now):
                changed += 1
                log.info(
                    "sandbox_expired",
                    sandbox_id=sandbox.sandbox_id,
                    track_id=sandbox.allocated_to_track,
                )
        return JobResult(examined=examined, changed=changed)

    async def delete_stale(self) -> JobResult:
        """Remove stale items past the grace period (only if still stale since then)."""
        now = self._clock()
        examined = changed = 0
        async for sandbox in self._pool.query_status(SandboxStatus.STALE):
            examined += 1
            since = sandbox.stale_since or sandbox.updated_at or 0
            if now - since < self._settings.stale_grace_s:
                continue
            if await self._pool.delete_stale(sandbox):
                changed += 1
        return JobResult(examined=examined, changed=changed)

    async def sync(self) -> JobResult:
        """Upsert what the CSP lists; mark absent available ones stale.

        An empty or failed CSP answer changes nothing (and says so). Allocated and
        pending_deletion items are never touched: every write is conditional on the item
        being missing, available or stale. Nor is a sandbox deleted since the listing
        began brought back (its tombstone is at least as recent as ``listed_at``).
        """
        listed_at = self._clock()  # before the listing: a delete after it may be in it
        try:
            listing = list(await self._csp.list_accounts())
        except self._upstream_errors as exc:
            raise UpstreamUnavailableError(f"CSP unavailable: {type(exc).__name__}") from exc
        # Unusable accounts (e.g. being deleted on the CSP side) are not candidates; absent
        # from `listed`, an available item for one becomes stale.
        accounts = [a for a in listing if a.is_usable]
        if not listing:
            raise UpstreamUnavailableError("CSP listed no accounts; the pool was left unchanged")
        now = self._clock()
        known: dict[str, Sandbox] = {}
        for status in SandboxStatus:
            async for sandbox in self._pool.query_status(status):
                known[sandbox.sandbox_id] = sandbox
        listed = {a.sandbox_id for a in accounts}
        synced = stale = 0
        for account in accounts:
            current = known.get(account.sandbox_id)
            if current is not None and current.status not in {
                SandboxStatus.AVAILABLE,
                SandboxStatus.STALE,
            }:
                continue  # allocated / being deleted: sync never touches it
            if (
                current is not None
                and current.status is SandboxStatus.AVAILABLE
                and current.name == account.name
                and current.external_id == account.external_id
            ):
                continue  # unchanged: no write
            fresh = Sandbox(
                sandbox_id=account.sandbox_id,
                name=account.name,
                external_id=account.external_id,
                status=SandboxStatus.AVAILABLE,
                sfdc_account_id=account.sfdc_account_id,
            )
            if await self._pool.upsert_from_csp(fresh, now=now, listed_at=listed_at):
                synced += 1
        absent = [
            s.sandbox_id
            for s in known.values()
            if s.status is SandboxStatus.AVAILABLE and s.sandbox_id not in listed
        ]
        for sandbox_id in absent:
            if await self._pool.mark_stale(sandbox_id, now=now):
                stale += 1
        if self._on_sync is not None:
            self._on_sync(synced, stale)
        return JobResult(examined=len(accounts), changed=synced + stale)

    async def cleanup(self, publish: PublishDeletes, *, request_id: str) -> JobResult:
        """Fan out one delete_sandbox job per pending (or due deletion_failed) sandbox."""
        now = self._clock()
        jobs: list[DeleteSandboxJob] = []
        async for sandbox in self._pool.query_status(SandboxStatus.PENDING_DELETION):
            jobs.append(self._delete_job(sandbox, request_id, len(jobs)))
        async for sandbox in self._pool.query_status(SandboxStatus.DELETION_FAILED):
            if (sandbox.deletion_next_attempt_at or 0) <= now:
                jobs.append(self._delete_job(sandbox, request_id, len(jobs)))
        failed = await publish(jobs) if jobs else 0
        return JobResult(examined=len(jobs), changed=len(jobs) - failed, failed=failed)

    @staticmethod
    def _delete_job(sandbox: Sandbox, request_id: str, n: int) -> DeleteSandboxJob:
        # request ids are 1-64 chars: the cleanup's id plus a short sequence number
        return DeleteSandboxJob(
            request_id=f"{request_id[:54]}-d{n:06d}",
            sandbox_id=sandbox.sandbox_id,
            requested_by="scheduler",
        )

    async def delete_sandbox(
        self,
        job: DeleteSandboxJob,
        *,
        attempt: int,
        reply: Callable[[JobResult], dict[str, Any]] | None = None,
    ) -> DeleteOutcome:
        """Delete one sandbox in the CSP, then remove its item.

        On a CSP failure the item records the error; the caller retries the message after
        ``retry_in_s``. After ``max_deletion_retries`` the item becomes deletion_failed and a
        later cleanup retries it with a longer backoff — never dropped silently.
        ``reply(result)`` gives the transact Put of the reply for a deletion, written in
        the same transaction as the removal (``reply_written`` says whether it was).
        """
        sandbox = await self._pool.get_sandbox(job.sandbox_id)
        if sandbox is None:
            return DeleteOutcome(JobResult(examined=1))  # already removed
        if sandbox.status not in {SandboxStatus.PENDING_DELETION, SandboxStatus.DELETION_FAILED}:
            log.warning("delete_skipped", sandbox_id=sandbox.sandbox_id, status=sandbox.status)
            return DeleteOutcome(JobResult(examined=1))
        try:
            await self._csp.delete_account(sandbox.sandbox_id)
        except self._upstream_errors as exc:
            now = self._clock()
            give_up = attempt >= self._settings.max_deletion_retries
            failures = sandbox.deletion_retry_count + 1
            quarantine = failures >= self._settings.quarantine_after
            backoff = min(
                self._settings.failed_retry_base_s * 2 ** max(failures - 1, 0),
                self._settings.failed_retry_cap_s,
            )
            await self._pool.record_deletion_failure(
                sandbox.sandbox_id,
                error=f"{type(exc).__name__}: {exc}",
                give_up=give_up,
                next_attempt_at=now + backoff,
                now=now,
                quarantine=quarantine,
            )
            if quarantine:
                log.warning("sandbox_quarantined", sandbox_id=sandbox.sandbox_id, failures=failures)
                return DeleteOutcome(JobResult(examined=1, failed=1))  # no automatic retry
            retry_in = None if give_up else self._settings.delete_retry_base_s * 2 ** (attempt - 1)
            return DeleteOutcome(JobResult(examined=1, failed=1), retry_in_s=retry_in)
        done = JobResult(examined=1, changed=1)
        removed, written = await self._pool.delete_deleted(
            sandbox.sandbox_id,
            deleted_at=self._clock(),  # the CSP delete has returned: it is done by now
            reply=reply(done) if reply is not None else None,
        )
        if removed and written:
            return DeleteOutcome(done, reply_written=True)
        return DeleteOutcome(JobResult(examined=1, changed=int(removed)))


@dataclass(frozen=True)
class DeleteOutcome:
    result: JobResult
    #: Seconds until the message should be tried again; None when it is settled.
    retry_in_s: int | None = None
    #: The reply was written with the removal (``reply`` given): the caller need not.
    reply_written: bool = False
