"""``status``: what an operator looks at first — pool, queues, DLQs and the last job runs.

The last scheduled runs are found without a Scan: the scheduler's request ids are
deterministic (``sched_<type>_<bucket>``, bucket = floor(now / interval)), so the replies of
the current and the previous bucket of every job are two keyed reads each.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from producers.ops.dlq import get_replies
from producers.ops.errors import QueueNotFoundError
from producers.ops.pool import list_sandboxes, pool_stats
from producers.ops.queues import QueueDepth, queue_depth
from producers.scheduler import bucket_of, schedules
from schemas.pool import PoolStats, Sandbox, SandboxStatus
from schemas.replies import ReplyRecord
from schemas.settings import SchedulerSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient


#: How many quarantined sandboxes ``status`` lists (the count is in the pool table).
QUARANTINED_SHOWN = 20


@dataclass(frozen=True)
class QueueRow:
    label: str  # "requests", "requests DLQ", ...
    name: str
    depth: QueueDepth | None  # None: the queue does not exist

    def as_dict(self) -> dict[str, Any]:
        d = self.depth
        return {
            "queue": self.label,
            "name": self.name,
            "exists": d is not None,
            "visible": d.visible if d else None,
            "in_flight": d.in_flight if d else None,
            "delayed": d.delayed if d else None,
            "oldest_age_s": d.oldest_age_s if d else None,
        }


@dataclass(frozen=True)
class JobRun:
    """The latest scheduled run of one job found in the replies table (if any)."""

    job: str
    interval_s: int
    request_ids: tuple[str, str]  # current bucket, previous bucket
    reply: ReplyRecord | None

    def as_dict(self) -> dict[str, Any]:
        r = self.reply
        return {
            "job": self.job,
            "interval_s": self.interval_s,
            "looked_up": list(self.request_ids),
            "request_id": r.request_id if r else None,
            "status": r.status.value if r else None,
            "completed_at": r.completed_at if r else None,
            "result": r.result if r else None,
            "error": r.error.model_dump(mode="json") if r and r.error else None,
        }


@dataclass(frozen=True)
class StatusReport:
    taken_at: float
    pool: PoolStats
    queues: list[QueueRow]
    jobs: list[JobRun]
    #: v2: the quarantined sandboxes (up to QUARANTINED_SHOWN) and why.
    quarantined: list[Sandbox] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at,
            "pool": self.pool.model_dump(),
            "quarantined": [
                {
                    "sandbox_id": s.sandbox_id,
                    "name": s.name,
                    "reason": s.quarantine_reason,
                    "quarantined_at": s.quarantined_at,
                    "deletion_last_error": s.deletion_last_error,
                }
                for s in self.quarantined
            ],
            "queues": [q.as_dict() for q in self.queues],
            "jobs": [j.as_dict() for j in self.jobs],
        }


async def _row(sqs: SQSClient, label: str, name: str) -> QueueRow:
    try:
        return QueueRow(label, name, await queue_depth(sqs, name))
    except QueueNotFoundError:
        return QueueRow(label, name, None)


def scheduled_request_ids(settings: SchedulerSettings, now: float) -> dict[str, tuple[str, str]]:
    """Per job: the request ids of the current and the previous scheduled run."""
    out: dict[str, tuple[str, str]] = {}
    for schedule in schedules(settings):
        bucket = bucket_of(now, schedule.interval_s)
        job = schedule.job.value
        out[job] = (f"sched_{job}_{bucket}", f"sched_{job}_{bucket - 1}")
    return out


async def collect_status(
    sqs: SQSClient, ddb: DynamoDBClient, *, settings: SchedulerSettings, now: float | None = None
) -> StatusReport:
    now = time.time() if now is None else now
    names = settings.names
    queues = await asyncio.gather(
        _row(sqs, "requests", names.requests_queue),
        _row(sqs, "requests DLQ", names.requests_dlq),
        _row(sqs, "jobs", names.jobs_queue),
        _row(sqs, "jobs DLQ", names.jobs_dlq),
    )
    stats = await pool_stats(ddb, table=names.pool_table, tenants_table=names.tenants_table)
    quarantined = (
        await list_sandboxes(
            ddb, table=names.pool_table, status=SandboxStatus.QUARANTINED, limit=QUARANTINED_SHOWN
        )
        if stats.quarantined
        else []
    )
    wanted = scheduled_request_ids(settings, now)
    replies = await get_replies(
        ddb, table=names.replies_table, request_ids=[r for pair in wanted.values() for r in pair]
    )
    intervals = {s.job.value: s.interval_s for s in schedules(settings)}
    jobs = [
        JobRun(
            job=job,
            interval_s=intervals[job],
            request_ids=ids,
            reply=replies.get(ids[0]) or replies.get(ids[1]),
        )
        for job, ids in wanted.items()
    ]
    return StatusReport(
        taken_at=now, pool=stats, queues=list(queues), jobs=jobs, quarantined=quarantined
    )
