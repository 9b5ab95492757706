"""pool stats/list, jobs run and status on a real moto server."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from producers.ops import pool
from producers.ops.status import collect_status
from producers.scheduler import bucket_of
from schemas.items import reply_item, to_item
from schemas.pool import SandboxStatus, sandbox_key
from schemas.replies import JobResult, ReplyError, ReplyRecord, ReplyStatus
from schemas.settings import SchedulerSettings
from tests.factories import allocate_message, sandbox
from tests.integration.ops.conftest import Stack, run_cli

pytestmark = pytest.mark.integration


class NoScan:
    """The DynamoDB client, refusing Scan: operator reads must Query an index."""

    def __init__(self, ddb: Any) -> None:
        self._ddb = ddb
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name == "scan":
            raise AssertionError("operator tools must never Scan the pool")
        self.calls.append(name)
        return getattr(self._ddb, name)


async def _fill_pool(stack: Stack) -> None:
    """3 available, 2 allocated to track-a, 1 allocated to track-b, 1 stale."""
    layout = [
        (SandboxStatus.AVAILABLE, None),
        (SandboxStatus.AVAILABLE, None),
        (SandboxStatus.AVAILABLE, None),
        (SandboxStatus.ALLOCATED, "track-a"),
        (SandboxStatus.ALLOCATED, "track-a"),
        (SandboxStatus.ALLOCATED, "track-b"),
        (SandboxStatus.STALE, None),
    ]
    now = time.time()
    for n, (status, track) in enumerate(layout):
        item = sandbox(n).model_copy(
            update={
                "status": status,
                "allocated_to_track": track,
                "allocated_at": now - 60 * n if track else 0,
                "expires_at": now + 3600 if track else None,
            }
        )
        await stack.ddb.put_item(
            TableName=stack.names.pool_table,
            Item={
                **{k: {"S": v} for k, v in sandbox_key(item.sandbox_id).items()},
                **to_item(item.model_dump(mode="json")),
            },
        )


async def test_pool_reads_count_and_list_by_index_never_scanning(stack: Stack) -> None:
    await _fill_pool(stack)
    ddb = NoScan(stack.ddb)
    table = stack.names.pool_table

    stats = await pool.pool_stats(ddb, table=table)
    allocated = await pool.list_sandboxes(ddb, table=table, status=SandboxStatus.ALLOCATED)
    track_a = await pool.list_sandboxes(ddb, table=table, track="track-a")
    track_a_stale = await pool.list_sandboxes(
        ddb, table=table, track="track-a", status=SandboxStatus.STALE
    )
    first_four = await pool.list_sandboxes(ddb, table=table, limit=4)

    assert stats.model_dump() == {
        "available": 3,
        "allocated": 3,
        "pending_deletion": 0,
        "stale": 1,
        "deletion_failed": 0,
        "quarantined": 0,
        "total": 7,
        "by_tenant": {},
    }
    assert {s.allocated_to_track for s in allocated} == {"track-a", "track-b"}
    assert len(allocated) == 3
    assert sorted(s.sandbox_id for s in track_a) == ["sbx-00003", "sbx-00004"]
    assert track_a_stale == []
    assert len(first_four) == 4
    assert [s.status for s in first_four].count(SandboxStatus.AVAILABLE) == 3
    assert set(ddb.calls) == {"query"}


async def test_pool_cli_prints_stats_and_lists_as_json_and_tables(stack: Stack) -> None:
    await _fill_pool(stack)

    stats = await run_cli(["pool", "stats", "--json"], stack.env)
    listed = await run_cli(["pool", "list", "--track", "track-b", "--json"], stack.env)
    table = await run_cli(["pool", "list", "--status", "allocated"], stack.env)

    assert stats.exit_code == 0, stats.stderr
    assert stats.json()["available"] == 3
    assert stats.json()["total"] == 7
    assert [s["sandbox_id"] for s in listed.json()] == ["sbx-00005"]
    assert table.exit_code == 0
    assert "sbx-00003" in table.stdout
    assert "3 sandbox(es)" in table.stdout


async def _fake_job_consumer(stack: Stack, *, status: ReplyStatus) -> dict[str, Any]:
    """Receive one job like the consumer would and write its reply; return what it saw."""
    url = stack.url(stack.names.jobs_queue)
    while True:
        resp = await stack.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        if resp.get("Messages"):
            break
    (msg,) = resp["Messages"]
    body = json.loads(msg["Body"])
    record = ReplyRecord(
        request_id=body["request_id"],
        action=body["type"],
        status=status,
        result=JobResult(examined=3, changed=1).model_dump() if status == "succeeded" else None,
        error=None
        if status == "succeeded"
        else ReplyError(code="UPSTREAM_UNAVAILABLE", message="CSP circuit open"),
        completed_at=time.time(),
    )
    await stack.ddb.put_item(TableName=stack.names.replies_table, Item=reply_item(record))
    await stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    return msg


async def test_jobs_run_wait_prints_the_reply_and_exits_by_outcome(stack: Stack) -> None:
    # succeeded → exit 0, the reply on stdout; the message is what the admin API sends
    consumer = asyncio.create_task(_fake_job_consumer(stack, status=ReplyStatus.SUCCEEDED))
    ok = await run_cli(["jobs", "run", "sync", "--wait", "--timeout", "20"], stack.env)
    seen = await consumer
    assert ok.exit_code == 0, ok.stderr
    reply = ok.json()
    assert reply["status"] == "succeeded"
    assert reply["result"] == {"examined": 3, "changed": 1, "failed": 0}
    body = json.loads(seen["Body"])
    assert body["request_id"].startswith("adm_")
    assert body["requested_by"] == "admin"
    assert seen["Attributes"]["MessageGroupId"] == "sync"
    assert seen["Attributes"]["MessageDeduplicationId"] == body["request_id"]
    assert seen["MessageAttributes"]["type"]["StringValue"] == "sync"

    # failed → exit 1; the admin route slug is accepted too
    consumer = asyncio.create_task(_fake_job_consumer(stack, status=ReplyStatus.FAILED))
    failed = await run_cli(["jobs", "run", "delete-stale", "--wait"], stack.env)
    seen = await consumer
    assert failed.exit_code == 1
    assert failed.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert json.loads(seen["Body"])["type"] == "delete_stale"

    # nobody answers → exit 3 after the timeout; without --wait → the accepted request
    timeout = await run_cli(["jobs", "run", "expire", "--wait", "--timeout", "0.3"], stack.env)
    assert timeout.exit_code == 3
    assert "no reply" in timeout.stderr
    accepted = await run_cli(["jobs", "run", "cleanup"], stack.env)
    assert accepted.exit_code == 0
    assert accepted.json()["status"] == "pending"
    assert accepted.json()["poll"] == f"/v1/requests/{accepted.json()['request_id']}"

    unknown = await run_cli(["jobs", "run", "delete_sandbox"], stack.env)
    assert unknown.exit_code == 2


async def test_status_shows_pool_queues_dlqs_and_last_scheduled_runs(stack: Stack) -> None:
    await _fill_pool(stack)
    await stack.dead_letter(allocate_message("t1"), group="t1", reason="x")
    await stack.sqs.send_message(
        QueueUrl=stack.url(stack.names.jobs_queue),
        MessageBody="{}",
        MessageGroupId="sync",
        MessageDeduplicationId="d1",
    )
    settings = SchedulerSettings(
        name_prefix=stack.settings.name_prefix, aws_endpoint_url=stack.settings.aws_endpoint_url
    )
    now = time.time()
    # the scheduler's sync of the current bucket succeeded; cleanup's previous one failed
    sync_id = f"sched_sync_{bucket_of(now, settings.sync_interval_s)}"
    cleanup_id = f"sched_cleanup_{bucket_of(now, settings.cleanup_interval_s) - 1}"
    for rid, action, status in (
        (sync_id, "sync", ReplyStatus.SUCCEEDED),
        (cleanup_id, "cleanup", ReplyStatus.FAILED),
    ):
        record = ReplyRecord(
            request_id=rid,
            action=action,
            status=status,
            result={"examined": 7, "changed": 0, "failed": 0} if status == "succeeded" else None,
            error=ReplyError(code="UPSTREAM_UNAVAILABLE", message="down")
            if status == "failed"
            else None,
            completed_at=now - 5,
        )
        await stack.ddb.put_item(TableName=stack.names.replies_table, Item=reply_item(record))

    report = await collect_status(stack.sqs, stack.ddb, settings=settings, now=now)
    cli = await run_cli(["status", "--json"], stack.env)
    screen = await run_cli(["status"], stack.env)

    assert report.pool.total == 7
    depths = {q.label: q.depth for q in report.queues}
    assert depths["requests DLQ"] is not None
    assert depths["requests DLQ"].visible == 1
    assert depths["jobs"] is not None
    assert depths["jobs"].visible == 1
    assert depths["jobs"].oldest_age_s is None, "moto does not report it: shown as unknown"
    runs = {j.job: j.reply for j in report.jobs}
    assert runs["sync"] is not None
    assert runs["sync"].request_id == sync_id
    assert runs["cleanup"] is not None
    assert runs["cleanup"].status == ReplyStatus.FAILED
    assert runs["expire"] is None
    assert cli.exit_code == 0, cli.stderr
    assert cli.json()["pool"]["allocated"] == 3
    assert {j["job"]: j["status"] for j in cli.json()["jobs"]} == {
        "sync": "succeeded",
        "cleanup": "failed",
        "expire": None,
        "delete_stale": None,
    }
    assert screen.exit_code == 0
    for text in ("requests DLQ", "jobs DLQ", "succeeded", "UPSTREAM_UNAVAILABLE", "available"):
        assert text in screen.stdout
