"""``pool retry | quarantine | release`` and ``status`` on a real moto server.

A small job runner stands in for the consumer: it receives the job the CLI enqueued from
the jobs queue and runs the consumer's own OperatorService on it, writing the reply the
way the jobs handler does.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from consumers.services.operator import OperatorService
from consumers.services.replies import ReplyFactory
from consumers.stores.operator import OperatorStore
from consumers.stores.replies import ReplyStore
from schemas.errors import SandboxError
from schemas.items import to_item
from schemas.messages import JOB_MESSAGE
from schemas.pool import SandboxStatus, sandbox_key
from tests.factories import sandbox
from tests.integration.ops.conftest import Stack, run_cli

pytestmark = pytest.mark.integration


async def _put(stack: Stack, n: int, status: SandboxStatus, track: str | None = None) -> str:
    now = time.time()
    item = sandbox(n).model_copy(
        update={
            "status": status,
            "allocated_to_track": track,
            "allocated_at": now - 60 if track else 0,
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
    return item.sandbox_id


def _last_json(result) -> dict:
    """The command's JSON: its last stdout line (the in-process job runner logs there too)."""
    return json.loads(result.stdout.strip().splitlines()[-1])


async def _run_one_job(stack: Stack) -> dict:
    """Receive one operator job, run it as the consumer does, write its reply."""
    url = stack.url(stack.names.jobs_queue)
    service = OperatorService(OperatorStore(stack.ddb, table=stack.names.pool_table))
    replies = ReplyStore(stack.ddb, table=stack.names.replies_table)
    factory = ReplyFactory(ttl_s=3600)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        resp = await stack.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
        )
        for msg in resp.get("Messages", []):
            job = JOB_MESSAGE.validate_json(msg["Body"])
            try:
                result = await service.run(job)  # type: ignore[arg-type]
                record = factory.job_succeeded(
                    request_id=job.request_id,
                    action=job.type,
                    result=result.model_dump(),
                    attempts=1,
                )
            except SandboxError as exc:
                record = factory.job_failed(
                    request_id=job.request_id, action=job.type, error=exc, attempts=1
                )
            await replies.put(record)
            await stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
            return msg
    raise AssertionError("no job arrived")


async def test_operator_verbs_through_the_cli_with_refusals_and_status(stack: Stack) -> None:
    """GIVEN an available, an allocated and a deletion_failed sandbox, THEN quarantine,
    release and retry each succeed (exit 0, the job on group sandbox:<id> with the reason),
    `status` lists the quarantined one with its reason, and unknown ids or wrong states
    exit 2 with a clear message before anything is enqueued."""
    free = await _put(stack, 0, SandboxStatus.AVAILABLE)
    held = await _put(stack, 1, SandboxStatus.ALLOCATED, track="trk-1")
    failed = await _put(stack, 2, SandboxStatus.DELETION_FAILED)

    runner = asyncio.create_task(_run_one_job(stack))
    done = await run_cli(["pool", "quarantine", free, "--reason", "MFA lost", "--json"], stack.env)
    seen = await runner
    assert done.exit_code == 0, done.stderr
    assert _last_json(done)["status"] == "succeeded"
    body = json.loads(seen["Body"])
    assert (body["type"], body["sandbox_id"], body["reason"]) == ("quarantine", free, "MFA lost")
    assert seen["Attributes"]["MessageGroupId"] == f"sandbox:{free}"

    status = await run_cli(["status", "--json"], stack.env)
    assert status.exit_code == 0, status.stderr
    report = _last_json(status)
    assert report["pool"]["quarantined"] == 1
    assert report["quarantined"][0]["sandbox_id"] == free
    assert report["quarantined"][0]["reason"] == "MFA lost"
    table = await run_cli(["status"], stack.env)
    assert "quarantined" in table.stdout and "MFA lost" in table.stdout

    runner = asyncio.create_task(_run_one_job(stack))
    forced = await run_cli(["pool", "release", held, "--reason", "stuck lab"], stack.env)
    await runner
    assert forced.exit_code == 0, forced.stderr
    runner = asyncio.create_task(_run_one_job(stack))
    retried = await run_cli(["pool", "retry", failed, "--json"], stack.env)
    await runner
    assert retried.exit_code == 0, retried.stderr
    states = {
        sid: (
            await stack.ddb.get_item(
                TableName=stack.names.pool_table,
                Key={k: {"S": v} for k, v in sandbox_key(sid).items()},
            )
        )["Item"]["status"]["S"]
        for sid in (free, held, failed)
    }
    assert states == {free: "quarantined", held: "pending_deletion", failed: "pending_deletion"}

    refusals = [
        (["pool", "retry", "sbx-unknown"], "no sandbox sbx-unknown"),
        (["pool", "retry", held], "it is pending_deletion; retry needs"),
        (["pool", "release", free, "--reason", "x"], "release needs allocated"),
        (["pool", "quarantine", free, "--reason", "again"], "it is quarantined"),
    ]
    for args, text in refusals:
        refused = await run_cli(args, stack.env)
        assert refused.exit_code == 2, (args, refused.stderr)
        assert text in refused.stderr, (args, refused.stderr)
    bad_reason = await run_cli(["pool", "release", held, "--reason", ""], stack.env)
    assert bad_reason.exit_code == 2
    missing_reason = await run_cli(["pool", "quarantine", free], stack.env)
    assert missing_reason.exit_code == 2
    assert await stack.depth(stack.names.jobs_queue) == (0, 0)  # refusals enqueue nothing


async def test_pool_history_prints_the_leases_newest_first(stack: Stack) -> None:
    from consumers.stores.history import CloseLease, HistoryStore, OpenLease
    from schemas.events import LeaseRecord

    history = HistoryStore(stack.ddb, table=stack.names.pool_table)
    for n, end in enumerate(["released", "forced", None]):
        at = 1_790_000_000.0 + n * 3600
        await history.apply(
            OpenLease(LeaseRecord(sandbox_id="sbx-h", track_id=f"trk-{n}", allocated_at=at))
        )
        if end is not None:
            await history.apply(CloseLease("sbx-h", at, at + 600, end))  # type: ignore[arg-type]
    listed = await run_cli(["pool", "history", "sbx-h", "--json"], stack.env)
    assert listed.exit_code == 0, listed.stderr
    leases = _last_json(listed)
    assert [(x["track_id"], x["end"]) for x in leases] == [
        ("trk-2", None),
        ("trk-1", "forced"),
        ("trk-0", "released"),
    ]
    limited = await run_cli(["pool", "history", "sbx-h", "--json", "-n", "1"], stack.env)
    assert [x["track_id"] for x in _last_json(limited)] == ["trk-2"]
    table = await run_cli(["pool", "history", "sbx-h"], stack.env)
    assert table.exit_code == 0 and "trk-1" in table.stdout and "forced" in table.stdout
    assert "3 lease(s)" in table.stdout
