"""Handlers: replies, dead-lettering on the last receive, metrics, invalid bodies (no network)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from consumers.handlers import Handlers
from consumers.metrics import BrokerMetrics
from consumers.services.jobs import DeleteOutcome
from consumers.services.replies import ReplyFactory
from schemas.errors import ErrorCode, UpstreamUnavailableError
from schemas.messages import DeleteSandboxJob, SyncJob
from schemas.replies import JobResult, ReplyStatus
from tests.factories import allocate_message


@dataclass
class FakeReplies:
    rows: dict = field(default_factory=dict)

    async def put(self, record):
        return self.rows.setdefault(record.request_id, record)


@dataclass
class FakeDelivery:
    receive_count: int = 1
    last_receive: bool = False
    message_group: str | None = "g"
    nacked: list = field(default_factory=list)

    async def nack(self, delay_s: float) -> None:
        self.nacked.append(delay_s)


class BrokenAllocation:
    async def allocate(self, message, *, attempts):
        raise RuntimeError("DynamoDB throttled")


class FakeJobs:
    def __init__(self, *, sync=None, delete=None):
        self._sync, self._delete = sync, delete

    async def sync(self):
        if isinstance(self._sync, Exception):
            raise self._sync
        return self._sync

    async def delete_sandbox(self, job, *, attempt, reply=None):
        return self._delete


def handlers(**kw) -> tuple[Handlers, FakeReplies, BrokerMetrics]:
    replies = FakeReplies()
    metrics = BrokerMetrics(CollectorRegistry())
    h = Handlers(
        allocation=kw.get("allocation", BrokenAllocation()),
        jobs=kw.get("jobs", FakeJobs()),
        replies=replies,
        factory=ReplyFactory(ttl_s=60),
        metrics=metrics,
        publish_deletes=kw.get("publish"),
    )
    return h, replies, metrics


def value(metrics: BrokerMetrics, name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels or None) or 0.0


async def test_a_failure_before_the_last_receive_writes_nothing_and_raises() -> None:
    h, replies, _ = handlers()
    with pytest.raises(RuntimeError):
        await h.on_request(allocate_message("t"), FakeDelivery(receive_count=2))
    assert replies.rows == {}


async def test_a_failure_on_the_last_receive_writes_dead_lettered_then_raises() -> None:
    h, replies, metrics = handlers()
    msg = allocate_message("t")
    with pytest.raises(RuntimeError):
        await h.on_request(msg, FakeDelivery(receive_count=5, last_receive=True))
    row = replies.rows[msg.request_id]
    assert row.status is ReplyStatus.FAILED
    assert row.error.code is ErrorCode.DEAD_LETTERED
    assert row.track_id == "t"
    assert value(metrics, "broker_message_receive_count_count", action="allocate") == 1


async def test_a_job_outcome_error_is_a_failed_reply_not_a_crash() -> None:
    h, _replies, metrics = handlers(jobs=FakeJobs(sync=UpstreamUnavailableError("CSP down")))
    row = await h.on_job(SyncJob(request_id="req_s1"), FakeDelivery())
    assert row.error.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert row.result is None
    assert value(metrics, "broker_sync_total", outcome="failed") == 1


async def test_a_delete_to_retry_is_nacked_and_not_answered_yet() -> None:
    retry = DeleteOutcome(JobResult(examined=1, failed=1), retry_in_s=30)
    h, replies, _metrics = handlers(jobs=FakeJobs(delete=retry))
    delivery = FakeDelivery()
    job = DeleteSandboxJob(request_id="req_d1", sandbox_id="s1")
    assert await h.on_job(job, delivery) is None
    assert delivery.nacked == [30]
    assert replies.rows == {}
    done = DeleteOutcome(JobResult(examined=1, changed=1))
    h2, _replies2, metrics2 = handlers(jobs=FakeJobs(delete=done))
    row = await h2.on_job(job, FakeDelivery())
    assert row.result == {"examined": 1, "changed": 1, "failed": 0}
    assert value(metrics2, "broker_cleanup_deleted_total") == 1


async def test_an_invalid_body_naming_its_request_gets_an_invalid_request_reply() -> None:
    h, replies, _ = handlers()
    body = '{"type": "teleport", "request_id": "req_x1", "track_id": "t-1"}'
    await h.on_undecodable(body, ValueError("unknown type"))
    row = replies.rows["req_x1"]
    assert row.error.code is ErrorCode.INVALID_REQUEST
    assert row.track_id == "t-1"


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        '{"request_id": "bad id with spaces"}',
        '{"type": "allocate"}',
        "[" * 16_000,  # RecursionError in json.loads: bad input, not a handler crash
    ],
)
async def test_an_invalid_body_without_a_usable_request_id_writes_nothing(body: str) -> None:
    h, replies, _ = handlers()
    await h.on_undecodable(body, ValueError("bad"))
    assert replies.rows == {}
