"""Quarantine after repeated failed deletes and the operator verbs, on a real moto server."""

from __future__ import annotations

import pytest

from consumers.services.operator import OperatorService
from consumers.stores.operator import OperatorStore
from schemas.errors import InvalidRequestError, SandboxNotFoundError
from schemas.messages import ForceReleaseJob, QuarantineJob, RetryJob
from schemas.pool import SandboxStatus, track_key
from tests.factories import allocate_message
from tests.integration.consumers.test_jobs_service import (
    Clock,
    FakeCsp,
    _allocate_and_release,
    _collector,
    jobs,
)

pytestmark = pytest.mark.integration


def operator(alloc_env) -> OperatorService:
    return OperatorService(OperatorStore(alloc_env.pool._ddb, table=alloc_env.pool.table))


async def _fail_until_quarantined(alloc_env, svc, clock, csp, sandbox_id: str) -> int:
    """Run cleanup + delete until the sandbox is quarantined; returns the deletes tried."""
    tried = 0
    for n in range(20):
        published, publish = _collector()
        await svc.cleanup(publish, request_id=f"req_cl{n}")
        for job in published:
            for attempt in range(1, 4):
                tried += 1
                outcome = await svc.delete_sandbox(job, attempt=attempt)
                if outcome.retry_in_s is None:
                    break
        current = await alloc_env.pool.get_sandbox(sandbox_id)
        if current.status is SandboxStatus.QUARANTINED:
            return tried
        clock.now = (current.deletion_next_attempt_at or clock.now) + 1
    raise AssertionError("never quarantined")


async def test_quarantine_after_n_failures_then_no_retry_until_an_operator_retries(
    alloc_env,
) -> None:
    """GIVEN a sandbox whose CSP delete always fails and quarantine_after=5, WHEN cleanups
    retry it, THEN after exactly 5 failed deletes it is quarantined with the last error and
    reason kept, later cleanups skip it; `retry` moves it to pending_deletion (count reset)
    and the next cleanup deletes it."""
    csp = FakeCsp()
    csp.add(1)
    clock = Clock()
    svc = jobs(alloc_env, csp, clock, quarantine_after=5)
    await svc.sync()
    await _allocate_and_release(alloc_env, "q", 1)
    bad = "sbx-00000"
    csp.fail_deletes.add(bad)

    assert await _fail_until_quarantined(alloc_env, svc, clock, csp, bad) == 5
    item = await alloc_env.pool.get_sandbox(bad)
    assert item.deletion_retry_count == 5
    assert "CspDownError" in item.deletion_last_error
    assert "CspDownError" in item.quarantine_reason

    clock.now += 10 * 86_400
    published, publish = _collector()
    assert (await svc.cleanup(publish, request_id="req_after")).examined == 0
    assert await alloc_env.pool.count(SandboxStatus.QUARANTINED) == 1

    ops = operator(alloc_env)
    retry = RetryJob(request_id="adm_retry1", sandbox_id=bad, reason="CSP fixed")
    assert (await ops.run(retry)).changed == 1
    assert (await ops.run(retry)).changed == 0  # a redelivery: same success, no change
    item = await alloc_env.pool.get_sandbox(bad)
    assert item.status is SandboxStatus.PENDING_DELETION
    assert item.deletion_retry_count == 0 and item.quarantine_reason is None
    csp.fail_deletes.clear()
    published, publish = _collector()
    await svc.cleanup(publish, request_id="req_fixed")
    assert (await svc.delete_sandbox(published[0], attempt=1)).result.changed == 1
    assert await alloc_env.pool.get_sandbox(bad) is None


async def test_operator_quarantine_and_force_release_and_their_refusals(alloc_env) -> None:
    """GIVEN an available and an allocated sandbox, THEN quarantine takes the available one
    out of service (never allocated again), refuses the allocated one, release forces the
    allocated one to pending_deletion and frees its track; unknown ids and wrong states
    answer SANDBOX_NOT_FOUND / INVALID_REQUEST naming the status."""
    await alloc_env.seed(2)
    allocator = alloc_env.service()
    got = await allocator.allocate(allocate_message("trk-a"))
    held = got.result["sandbox_id"]
    free = next(s for s in ("sbx-00000", "sbx-00001") if s != held)
    ops = operator(alloc_env)

    with pytest.raises(InvalidRequestError, match="it is allocated"):
        await ops.run(QuarantineJob(request_id="adm_q0", sandbox_id=held, reason="bad"))
    with pytest.raises(InvalidRequestError, match="it is available; retry needs"):
        await ops.run(RetryJob(request_id="adm_r0", sandbox_id=free))
    with pytest.raises(InvalidRequestError, match="it is available; release needs allocated"):
        await ops.run(ForceReleaseJob(request_id="adm_f0", sandbox_id=free, reason="x"))
    for job in (RetryJob, QuarantineJob, ForceReleaseJob):
        with pytest.raises(SandboxNotFoundError):
            await ops.run(job(request_id="adm_nf", sandbox_id="sbx-nope"))

    quarantine = QuarantineJob(request_id="adm_q1", sandbox_id=free, reason="MFA broken")
    assert (await ops.run(quarantine)).changed == 1
    assert (await ops.run(quarantine)).changed == 0  # redelivered: idempotent
    item = await alloc_env.pool.get_sandbox(free)
    assert item.status is SandboxStatus.QUARANTINED and item.quarantine_reason == "MFA broken"
    with pytest.raises(InvalidRequestError, match="it is quarantined"):
        await ops.run(QuarantineJob(request_id="adm_q2", sandbox_id=free, reason="again"))
    other = await alloc_env.service().allocate(allocate_message("trk-b"))
    assert other.error is not None and other.error.code.value == "NO_SANDBOXES_AVAILABLE"

    force = ForceReleaseJob(request_id="adm_f1", sandbox_id=held, reason="stuck lab")
    assert (await ops.run(force)).changed == 1
    assert (await ops.run(force)).changed == 0
    item = await alloc_env.pool.get_sandbox(held)
    assert item.status is SandboxStatus.PENDING_DELETION and item.lease_end == "forced"
    pointer = await alloc_env.pool._ddb.get_item(
        TableName=alloc_env.pool.table,
        Key={k: {"S": v} for k, v in track_key("default", "trk-a").items()},
    )
    assert "Item" not in pointer  # the track may allocate again
