"""The local stand-in for EventBridge Scheduler: job events onto ``sandbox-jobs.fifo``.

Each job type fires at wall-clock boundaries of its interval (every replica computes the
same boundary) and its deduplication id is ``<type>:<bucket>``, with the same request id,
so any number of replicas enqueue each job once per interval: SQS drops the copies sent
within its 5-minute deduplication window. A replica started mid-interval waits for the
next boundary instead of firing at once (a late first fire would fall outside the window
of the replicas that fired on time, and run the job twice).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from producers.enqueue import send
from schemas.messages import JOB_MESSAGE, MessageType
from schemas.settings import SchedulerSettings

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Schedule:
    job: MessageType
    interval_s: int


def schedules(settings: SchedulerSettings) -> list[Schedule]:
    return [
        Schedule(MessageType.SYNC, settings.sync_interval_s),
        Schedule(MessageType.CLEANUP, settings.cleanup_interval_s),
        Schedule(MessageType.EXPIRE, settings.expire_interval_s),
        Schedule(MessageType.DELETE_STALE, settings.delete_stale_interval_s),
    ]


def bucket_of(now: float, interval_s: int) -> int:
    return int(now // interval_s)


class Scheduler:
    """Fires every schedule at its boundaries until ``stop()``; one SendMessage per fire."""

    def __init__(
        self,
        sqs: SQSClient,
        *,
        queue_url: str,
        plan: list[Schedule],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._plan = plan
        self._clock = clock
        self._stopping = asyncio.Event()
        self.sent = 0

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for schedule in self._plan:
                tg.create_task(self._loop(schedule))

    def stop(self) -> None:
        self._stopping.set()

    async def _loop(self, schedule: Schedule) -> None:
        next_bucket = bucket_of(self._clock(), schedule.interval_s) + 1
        while not self._stopping.is_set():
            wait = next_bucket * schedule.interval_s - self._clock()
            if wait > 0:
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=wait)
                    return
                except TimeoutError:
                    pass
            await self._fire(schedule.job, next_bucket)
            next_bucket = max(next_bucket + 1, bucket_of(self._clock(), schedule.interval_s) + 1)

    async def _fire(self, job: MessageType, bucket: int) -> None:
        message = JOB_MESSAGE.validate_python(
            {
                "type": job.value,
                "request_id": f"sched_{job.value}_{bucket}",
                "requested_by": "scheduler",
            }
        )
        try:
            await send(
                self._sqs,
                queue_url=self._queue_url,
                message=message,
                group_id=job.value,
                dedup_id=f"{job.value}:{bucket}",
            )
        except Exception as exc:  # keep the other schedules going; the next boundary retries
            log.error("job_schedule_failed", action=job.value, outcome="error", error=repr(exc))
            return
        self.sent += 1
        log.info("job_scheduled", action=job.value, request_id=message.request_id, outcome="sent")


async def run_scheduler(
    settings: SchedulerSettings,
    sqs: SQSClient,
    *,
    ready: Callable[[Scheduler], Awaitable[None]] | None = None,
) -> None:
    queue_url = (await sqs.get_queue_url(QueueName=settings.names.jobs_queue))["QueueUrl"]
    scheduler = Scheduler(sqs, queue_url=queue_url, plan=schedules(settings))
    if ready is not None:
        await ready(scheduler)
    await scheduler.run()
