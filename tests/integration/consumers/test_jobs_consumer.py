"""Jobs through a real consumer process, the real CSP client and the fake CSP over HTTP."""

from __future__ import annotations

import secrets

import pytest

from infra.fake_csp import FakeCsp
from producers.enqueue import send
from schemas.errors import ErrorCode
from schemas.messages import CleanupJob, SyncJob
from schemas.pool import SandboxStatus
from schemas.replies import ReplyStatus
from tests.factories import wait_until
from tests.integration.consumers.processes import start_consumer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _job(sqs, settings, job) -> None:
    url = (await sqs.get_queue_url(QueueName=settings.names.jobs_queue))["QueueUrl"]
    await send(sqs, queue_url=url, message=job, group_id=job.type, dedup_id=job.request_id)


async def _reply(alloc_env, request_id: str, timeout: float = 60):
    await wait_until(lambda: alloc_env.replies.get(request_id), timeout=timeout, what=request_id)
    return await alloc_env.replies.get(request_id)


async def _mark_all_pending(ddb, table: str, ids: list[str]) -> None:
    for sid in ids:  # test set-up: as if each had been released
        await ddb.update_item(
            TableName=table,
            Key={"PK": {"S": f"SBX#{sid}"}, "SK": {"S": "META"}},
            UpdateExpression="SET #s = :pd, allocated_to_track = :t, allocated_at = :now",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":pd": {"S": "pending_deletion"},
                ":t": {"S": "gone-track"},
                ":now": {"N": "1"},
            },
        )


async def test_sync_then_cleanup_of_500_with_csp_failures_loses_nothing(
    alloc_env, sqs, ddb, tmp_path
) -> None:
    """500 pending sandboxes, 30% of CSP deletes failing (more than 10%, so some exhaust
    their retries and the deletion_failed path runs): every one ends deleted or
    deletion_failed with its reason; after recovery a later cleanup deletes the rest."""
    token = secrets.token_urlsafe(16)
    settings = alloc_env.settings
    async with FakeCsp(token=token, accounts=500, seed=7) as csp:
        consumer = start_consumer(
            settings,
            tmp_path / "jobs.log",
            csp_url=csp.url,
            BROKER_CSP_TOKEN=token,
            BROKER_CSP_RATE_PER_S="2000",
            BROKER_CSP_RETRY_ATTEMPTS="1",
            BROKER_MAX_DELETION_RETRIES="3",
            BROKER_DELETE_RETRY_BASE_S="0",
            BROKER_DELETION_FAILED_RETRY_BASE_S="0",
            BROKER_CSP_BREAKER_FAILURES="100000",
        )
        try:
            await _job(sqs, settings, SyncJob(request_id="req_sync1"))
            synced = await _reply(alloc_env, "req_sync1")
            assert synced.result == {"examined": 500, "changed": 500, "failed": 0}
            ids = [a.id for a in csp.accounts()]
            await _mark_all_pending(ddb, settings.names.pool_table, ids)

            csp.set_faults(error_rate=0.3)
            await _job(sqs, settings, CleanupJob(request_id="req_clean1"))
            fanned = await _reply(alloc_env, "req_clean1")
            assert fanned.result == {"examined": 500, "changed": 500, "failed": 0}

            async def settled() -> bool:
                return await alloc_env.pool.count(SandboxStatus.PENDING_DELETION) == 0

            await wait_until(settled, timeout=240, interval=0.5, what="every delete settled")
            failed = [s async for s in alloc_env.pool.query_status(SandboxStatus.DELETION_FAILED)]
            deleted = 500 - len(failed)
            assert len(csp.accounts()) == len(failed)  # nothing deleted in one place only
            assert all(s.deletion_last_error for s in failed)
            assert all(s.deletion_retry_count >= 1 for s in failed)
            assert deleted > 0

            csp.clear_faults()
            await _job(sqs, settings, CleanupJob(request_id="req_clean2"))
            retried = await _reply(alloc_env, "req_clean2")
            assert retried.result["examined"] == len(failed)

            async def all_gone() -> bool:
                counts = [await alloc_env.pool.count(s) for s in SandboxStatus]
                return sum(counts) == 0

            await wait_until(all_gone, timeout=120, interval=0.5, what="retried deletes done")
            assert csp.accounts() == []
        finally:
            assert consumer.terminate() == 0


async def test_sync_with_the_csp_down_changes_nothing_and_says_so(alloc_env, sqs, tmp_path) -> None:
    token = secrets.token_urlsafe(16)
    settings = alloc_env.settings
    await alloc_env.seed(3)
    async with FakeCsp(token=token, accounts=5) as csp:
        csp.set_faults(down=True)
        consumer = start_consumer(
            settings, tmp_path / "down.log", csp_url=csp.url, BROKER_CSP_TOKEN=token
        )
        try:
            await _job(sqs, settings, SyncJob(request_id="req_sync_down"))
            reply = await _reply(alloc_env, "req_sync_down")
            csp.set_faults(empty=True)
            await _job(sqs, settings, SyncJob(request_id="req_sync_empty"))
            empty = await _reply(alloc_env, "req_sync_empty")
        finally:
            assert consumer.terminate() == 0
    assert reply.status is ReplyStatus.FAILED
    assert reply.error.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert empty.error.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert await alloc_env.pool.count(SandboxStatus.AVAILABLE) == 3
    assert await alloc_env.pool.count(SandboxStatus.STALE) == 0
