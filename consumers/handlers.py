"""Thin handlers: bind log context, call a service, record the reply that stands.

They know nothing of SQS beyond ``Delivery`` (receive count, last receive, nack), so the
same code runs under the real broker and under TestSQSBroker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import structlog
from pydantic import ValidationError
from structlog.contextvars import bound_contextvars

from consumers.metrics import BrokerMetrics
from consumers.services.allocation import AllocationService
from consumers.services.dead_letters import body_fields
from consumers.services.jobs import JobService, PublishDeletes
from consumers.services.leases import LeaseService
from consumers.services.operator import OperatorService
from consumers.services.replies import ReplyFactory
from consumers.stores.replies import ReplyStore
from schemas.errors import InvalidRequestError, SandboxError
from schemas.ids import DEFAULT_TENANT, is_header_value, is_request_id, tenant_or_default
from schemas.messages import (
    AllocateMessage,
    CleanupJob,
    DeleteSandboxJob,
    DeleteStaleJob,
    ExpireJob,
    ExtendMessage,
    ForceReleaseJob,
    JobMessage,
    MessageType,
    QuarantineJob,
    ReleaseMessage,
    RequestMessage,
    RetryJob,
    SyncJob,
)
from schemas.replies import JobResult, ReplyRecord

log = structlog.get_logger(__name__)

#: The message types these handlers serve. The subscribers decode the schemas' unions but
#: refuse every other type as undecodable (INVALID_REQUEST, dead-lettered at once), as a
#: consumer that does not know the type would: add a type here with its ``case`` below.
ROUTED_TYPES: Final = frozenset(
    {
        MessageType.ALLOCATE,
        MessageType.RELEASE,
        MessageType.EXTEND,
        MessageType.SYNC,
        MessageType.CLEANUP,
        MessageType.EXPIRE,
        MessageType.DELETE_STALE,
        MessageType.DELETE_SANDBOX,
        MessageType.RETRY,
        MessageType.QUARANTINE,
        MessageType.FORCE_RELEASE,
    }
)


class Delivery(Protocol):
    """What a handler needs to know about the message it is handling."""

    @property
    def receive_count(self) -> int: ...
    @property
    def last_receive(self) -> bool: ...
    @property
    def message_group(self) -> str | None: ...
    async def nack(self, delay_s: float) -> None: ...


@dataclass
class Handlers:
    allocation: AllocationService
    jobs: JobService
    replies: ReplyStore
    factory: ReplyFactory
    metrics: BrokerMetrics
    publish_deletes: PublishDeletes
    #: v2: extend (None: extend messages fail as not routed).
    leases: LeaseService | None = None
    #: v2: told when a sync finished (it may have added sandboxes: the waiter pump looks).
    after_sync: Callable[[], None] | None = None
    #: v2 operator verbs (retry / quarantine / force_release); None: not served.
    operator: OperatorService | None = None

    async def on_request(self, message: RequestMessage, delivery: Delivery) -> ReplyRecord | None:
        """The reply that stands; None when an allocation waits for a sandbox (v2: its
        waiter item is durable, the pump answers it later)."""
        self.metrics.receive_count.labels(action=message.type).observe(delivery.receive_count)
        with bound_contextvars(
            request_id=message.request_id,
            track_id=message.track_id,
            action=message.type,
            message_group=delivery.message_group,
            receive_count=delivery.receive_count,
        ):
            try:
                match message:
                    case AllocateMessage():
                        reply = await self.allocation.allocate(
                            message, attempts=delivery.receive_count
                        )
                    case ReleaseMessage():
                        reply = await self.allocation.release(
                            message, attempts=delivery.receive_count
                        )
                    case ExtendMessage() if self.leases is not None:
                        reply = await self.leases.extend(message, attempts=delivery.receive_count)
                    case _:
                        raise _not_routed(message.type)
            except Exception as exc:
                await self._maybe_dead_letter(message, message.track_id, delivery, exc)
                raise
            if reply is not None:
                self._observe(message.type, message.requested_at.timestamp(), reply)
            return reply

    async def on_job(self, job: JobMessage, delivery: Delivery) -> ReplyRecord | None:
        """Run one job; None when the message was nacked for a later retry (not terminal)."""
        self.metrics.receive_count.labels(action=job.type).observe(delivery.receive_count)
        with bound_contextvars(
            request_id=job.request_id,
            action=job.type,
            message_group=delivery.message_group,
            receive_count=delivery.receive_count,
        ):
            started = time.perf_counter()
            written: ReplyRecord | None = None
            try:
                result, written = await self._run_job(job, delivery)
            except SandboxError as exc:  # e.g. CSP unavailable: an outcome, not a crash
                record = self.factory.job_failed(
                    request_id=job.request_id,
                    action=job.type,
                    error=exc,
                    attempts=delivery.receive_count,
                )
                outcome = "failed"
            except Exception as exc:
                await self._maybe_dead_letter(job, None, delivery, exc)
                raise
            else:
                if result is None:
                    return None
                record = written or self._job_succeeded(job, result, delivery)
                outcome = "succeeded" if not result.failed else "partial"
            stored = written if written is not None else await self.replies.put(record)
            self.metrics.job_finished(
                job.type,
                outcome,
                changed=(record.result or {}).get("changed", 0),
                failed=(record.result or {}).get("failed", 0),
            )
            log.info(
                "job_finished",
                outcome=outcome,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
                **(record.result or {}),
            )
            self._observe(job.type, job.requested_at.timestamp(), stored)
            return stored

    def _job_succeeded(self, job: JobMessage, result: JobResult, delivery: Delivery) -> ReplyRecord:
        return self.factory.job_succeeded(
            request_id=job.request_id,
            action=job.type,
            result=result.model_dump(),
            attempts=delivery.receive_count,
        )

    async def _run_job(
        self, job: JobMessage, delivery: Delivery
    ) -> tuple[JobResult | None, ReplyRecord | None]:
        """The job's result (None: nacked for a later retry) and its reply if already written."""
        match job:
            case SyncJob():
                synced = await self.jobs.sync()
                if self.after_sync is not None:
                    self.after_sync()
                return synced, None
            case CleanupJob():
                return (
                    await self.jobs.cleanup(self.publish_deletes, request_id=job.request_id),
                    None,
                )
            case ExpireJob():
                return await self.jobs.expire(), None
            case DeleteStaleJob():
                return await self.jobs.delete_stale(), None
            case DeleteSandboxJob():
                built: list[ReplyRecord] = []

                def reply(result: JobResult) -> dict[str, Any]:
                    built.append(self._job_succeeded(job, result, delivery))
                    return self.replies.put_transact_item(built[-1])

                outcome = await self.jobs.delete_sandbox(
                    job, attempt=delivery.receive_count, reply=reply
                )
                if outcome.retry_in_s is not None:
                    await delivery.nack(outcome.retry_in_s)
                    return None, None
                return outcome.result, built[-1] if outcome.reply_written else None
            case RetryJob() | QuarantineJob() | ForceReleaseJob() if self.operator is not None:
                return await self.operator.run(job), None
            case _:
                raise _not_routed(job.type)

    async def on_undecodable(self, body: bytes | str, error: Exception) -> None:
        """A body that does not validate: answer INVALID_REQUEST when it names its request."""
        fields = body_fields(body)
        request_id, track_id = fields.get("request_id"), fields.get("track_id")
        log.warning(
            "message_rejected",
            outcome="invalid",
            request_id=request_id,
            track_id=track_id,
            error=_short(error),
        )
        if not (isinstance(request_id, str) and is_request_id(request_id)):
            return
        if track_id is not None and not (isinstance(track_id, str) and is_header_value(track_id)):
            track_id = None
        action = fields.get("type") if isinstance(fields.get("type"), str) else "unknown"
        record = self.factory.failed(
            request_id=request_id,
            action=str(action)[:32],
            track_id=track_id,
            tenant=tenant_or_default(fields.get("tenant")),
            error=InvalidRequestError(f"the message did not validate: {_short(error)}"),
            attempts=1,
        )
        await self.replies.put(record)
        self.metrics.replies_total.labels(
            action="invalid", status="failed", code="INVALID_REQUEST"
        ).inc()

    async def _maybe_dead_letter(
        self, message: Any, track_id: str | None, delivery: Delivery, exc: Exception
    ) -> None:
        log.warning("handler_failed", outcome="error", error=_short(exc))
        if not delivery.last_receive:
            return
        record = self.factory.dead_lettered(
            request_id=message.request_id,
            action=message.type,
            track_id=track_id,
            tenant=getattr(message, "tenant", DEFAULT_TENANT),
            attempts=delivery.receive_count,
            reason=type(exc).__name__,
        )
        await self.replies.put(record)
        self.metrics.replies_total.labels(
            action=message.type, status="failed", code="DEAD_LETTERED"
        ).inc()
        log.error("request_dead_lettered", outcome="dead_lettered")

    def _observe(self, action: str, requested_at: float, reply: ReplyRecord) -> None:
        code = reply.error.code.value if reply.error else ""
        self.metrics.replies_total.labels(action=action, status=reply.status.value, code=code).inc()
        self.metrics.e2e_latency.labels(action=action).observe(max(time.time() - requested_at, 0))


def _not_routed(type_: str) -> NotImplementedError:
    # unreachable through the subscribers, which refuse a type outside ROUTED_TYPES
    return NotImplementedError(f"no handler for {type_!r} messages yet")


def _short(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()[:5]
        )
    return f"{type(error).__name__}: {str(error)[:200]}"
