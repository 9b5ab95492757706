"""The run itself: pace the requests, poll their replies, record what happened.

Each request is one task: submit (POST or SendMessage), then poll its reply first after
``poll_first_s`` and then doubling to ``poll_max_s`` — the track client's schedule — until
it is terminal or the request's timeout passes. With ``release`` a succeeded allocation is
given back by the same track and that release is a record of its own.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from producers.loadgen.options import LoadOptions, Target
from producers.loadgen.report import (
    NO_REPLY,
    SUCCEEDED,
    UNANSWERABLE,
    RequestRecord,
    Summary,
    summarize,
)
from producers.loadgen.targets import (
    LOCAL_CREDENTIALS,
    Backoff,
    GatewayTarget,
    LoadTarget,
    QueueTarget,
    SubmitFailed,
    embedded_calls,
)
from schemas.names import ResourceNames
from schemas.replies import ReplyStatus

#: Seconds between progress callbacks.
PROGRESS_EVERY_S = 0.5


@dataclass
class Progress:
    """A live view of the run for the progress display."""

    planned: int
    started: int = 0
    answered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    recent_ms: list[float] = field(default_factory=list)


@dataclass
class LoadResult:
    options: LoadOptions
    summary: Summary
    records: list[RequestRecord]


ProgressCallback = Callable[[Progress], None]


class _Run:
    def __init__(self, options: LoadOptions, target: LoadTarget) -> None:
        self.o = options
        self.target = target
        self.run_id = secrets.token_hex(3)
        self.records: list[RequestRecord] = []
        self.progress = Progress(planned=options.requests)
        self.t0 = 0.0
        self.stop_at = 0.0
        self.tasks: set[asyncio.Task[None]] = set()
        self.aborted: Exception | None = None

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def track(self, index: int) -> str:
        return f"{self.o.track_prefix}-{self.run_id}-{index % self.o.track_count():06d}"

    def _record(self, index: int, track_id: str, action: str, kind: str = "good") -> RequestRecord:
        record = RequestRecord(
            index=index,
            track_id=track_id,
            action=action,
            kind=kind,
            started=self.now(),
            started_wall=time.time(),
        )
        self.records.append(record)
        return record

    def finish(self, record: RequestRecord, outcome: str) -> None:
        record.outcome = outcome
        record.finished = self.now()
        if outcome != NO_REPLY:
            self.progress.answered += 1
            if record.latency is not None:
                self.progress.recent_ms.append(record.latency * 1000)
        self.progress.outcomes[outcome] += 1

    async def one(self, index: int) -> None:
        track_id = self.track(index)
        if self.o.poisoned(index) and isinstance(self.target, QueueTarget):
            await self.poison(index, track_id)
        self.progress.started += 1
        record = self._record(index, track_id, "allocate")
        await self.request(record, sandbox_id=None)
        if self.o.release and record.outcome == SUCCEEDED and record.sandbox_id:
            release = self._record(index, track_id, "release")
            await self.request(release, sandbox_id=record.sandbox_id)

    async def poison(self, index: int, track_id: str) -> None:
        assert isinstance(self.target, QueueTarget)
        record = self._record(index, track_id, "poison", kind="poison")
        request_id = await self.target.submit_poison(track_id=track_id, variant=index)
        record.accepted = self.now()
        if request_id is None:
            self.finish(record, UNANSWERABLE)
            return
        record.request_id = request_id
        # Read it beside the good one: waiting first would hide a stalled group.
        self.spawn(self.wait(record))

    async def request(self, record: RequestRecord, *, sandbox_id: str | None) -> None:
        try:
            record.request_id = await self.target.submit(
                action=record.action,
                track_id=record.track_id,
                sandbox_id=sandbox_id,
                within_s=self.o.timeout_s,
            )
        except SubmitFailed as exc:
            self.finish(record, exc.code)
            return
        record.accepted = self.now()
        await self.wait(record)

    async def wait(self, record: RequestRecord) -> None:
        assert record.request_id is not None
        deadline = min(record.started + self.o.timeout_s, self.stop_at)
        delay = self.o.poll_first_s
        await asyncio.sleep(min(delay, max(deadline - self.now(), 0)))
        while True:
            pause = delay = min(delay * 2, self.o.poll_max_s)
            record.polls += 1
            try:
                reply = await self.target.read(record.request_id, track_id=record.track_id)
            except Backoff as backoff:
                reply = None
                pause = backoff.seconds or delay
            if reply is not None:
                record.completed_at = reply.completed_at
                if reply.status is ReplyStatus.SUCCEEDED:
                    result = reply.result or {}
                    record.sandbox_id = result.get("sandbox_id")
                    record.idempotent = bool(result.get("idempotent", False))
                    self.finish(record, SUCCEEDED)
                else:
                    code = reply.error.code.value if reply.error else "FAILED"
                    self.finish(record, code)
                return
            left = deadline - self.now()
            if left <= 0:
                self.finish(record, NO_REPLY)
                return
            await asyncio.sleep(min(pause, left))

    async def paced(self) -> None:
        """Start the requests per the pacing, until all started or the duration is over."""
        o = self.o
        if o.burst:
            for i in range(o.requests):
                self.spawn(self.one(i))
        elif o.rate is not None:
            for i in range(o.requests):
                due = i / o.rate
                if due >= o.duration_s or self.aborted is not None:
                    break
                wait = due - self.now()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self.aborted is not None:
                    break
                self.spawn(self.one(i))
        else:
            assert o.concurrency is not None
            counter = iter(range(o.requests))

            async def worker() -> None:
                for i in counter:
                    if self.now() >= o.duration_s or self.aborted is not None:
                        return
                    await self.one(i)

            for _ in range(min(o.concurrency, o.requests)):
                self.spawn(worker())
        while self.tasks:  # poison reads are spawned while requests run
            if self.aborted is not None:
                for task in self.tasks:
                    task.cancel()
            await asyncio.wait(set(self.tasks))

    async def report(self, on_progress: ProgressCallback | None) -> None:
        """Call ``on_progress`` regularly; if it raises, the run is stopped with that error."""
        while True:
            self.progress.elapsed_s = self.now()
            if on_progress is not None:
                try:
                    on_progress(self.progress)
                except Exception as exc:
                    self.aborted = exc
                    for task in list(self.tasks):
                        task.cancel()  # paced() cancels any started after this, too
                    return
            self.progress.recent_ms = self.progress.recent_ms[-2000:]
            await asyncio.sleep(PROGRESS_EVERY_S)


def make_target(options: LoadOptions) -> GatewayTarget | QueueTarget:
    if options.target is Target.GATEWAY:
        assert options.gateway_url is not None
        assert options.token is not None
        return GatewayTarget(
            options.gateway_url,
            options.token.get_secret_value(),
            connections=options.connections,
            call_timeout_s=options.timeout_s,
        )
    assert options.aws_endpoint_url is not None
    has_credentials = bool(os.environ.get("AWS_ACCESS_KEY_ID"))
    return QueueTarget(
        endpoint_url=options.aws_endpoint_url,
        region=options.aws_region,
        names=ResourceNames.with_prefix(options.name_prefix),
        connections=options.connections,
        credentials=None if has_credentials else dict(LOCAL_CREDENTIALS),
    )


async def run_load(
    options: LoadOptions,
    *,
    on_progress: ProgressCallback | None = None,
    target: LoadTarget | None = None,
) -> LoadResult:
    """Run the load described by ``options``; the records and figures.

    ``target`` defaults to the one the options name (tests pass an in-memory one).
    ``on_progress`` is called every half second; raising from it stops the run (a harness
    that sees its stack die does not wait out every request's timeout).
    """
    target = target or make_target(options)
    if isinstance(target, QueueTarget):
        await target.start()
    run = _Run(options, target)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        async with httpx.AsyncClient() as admin:
            before = await embedded_calls(admin, options.aws_endpoint_url)
            run.t0 = time.perf_counter()
            # Hard stop: the pacing's duration plus one request timeout to drain.
            run.stop_at = options.duration_s + options.timeout_s
            reporter = asyncio.create_task(run.report(on_progress))
            try:
                await asyncio.wait_for(run.paced(), timeout=run.stop_at + 5)
            except TimeoutError:
                stuck = list(run.tasks)
                for task in stuck:
                    task.cancel()
                await asyncio.gather(*stuck, return_exceptions=True)
            finally:
                reporter.cancel()
            if run.aborted is not None:
                raise RuntimeError(f"load run stopped: {run.aborted}") from run.aborted
            for record in run.records:  # cancelled by the hard stop: never answered
                if record.outcome is None:
                    run.finish(record, NO_REPLY)
            run.progress.elapsed_s = run.now()
            if on_progress is not None:
                on_progress(run.progress)
            after = await embedded_calls(admin, options.aws_endpoint_url)
        dlq = await target.dlq_depth() if isinstance(target, QueueTarget) else None
        delta = None
        if before is not None and after is not None:
            delta = dict(after - before)
        summary = summarize(
            run.records,
            target=options.target.value,
            pacing=options.pacing,
            started_at=started_at,
            client_calls=target.client_calls(),
            server_delta=delta,
            loadgen_reads=target.loadgen_reads(),
            dlq_messages=dlq,
        )
    finally:
        await target.aclose()
    return LoadResult(options=options, summary=summary, records=run.records)
