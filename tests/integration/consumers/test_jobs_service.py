"""Maintenance jobs on a real moto server, with an in-memory CSP double."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from consumers.services.jobs import JobService, JobSettings
from consumers.services.replies import ReplyFactory
from schemas.errors import UpstreamUnavailableError
from schemas.messages import DeleteSandboxJob
from schemas.pool import SandboxStatus
from schemas.replies import ReplyStatus
from tests.factories import allocate_message, release_message

pytestmark = pytest.mark.integration


class CspDownError(Exception):
    pass


@dataclass(frozen=True)
class Account:
    sandbox_id: str
    name: str
    external_id: str
    sfdc_account_id: str | None = None
    is_usable: bool = True


@dataclass
class FakeCsp:
    accounts: dict[str, Account] = field(default_factory=dict)
    down: bool = False
    fail_deletes: set[str] = field(default_factory=set)
    deleted: list[str] = field(default_factory=list)

    def add(self, n: int, start: int = 0) -> None:
        for i in range(start, start + n):
            sid = f"sbx-{i:05d}"
            self.accounts[sid] = Account(sid, f"lab-aws-{i:05d}", f"identity/accounts/{sid}")

    async def list_accounts(self):
        if self.down:
            raise CspDownError("connection refused")
        return list(self.accounts.values())

    async def delete_account(self, account_id: str):
        if self.down or account_id in self.fail_deletes:
            raise CspDownError("503")
        self.accounts.pop(account_id, None)
        self.deleted.append(account_id)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def jobs(alloc_env, csp: FakeCsp, clock: Clock | None = None, **kw) -> JobService:
    settings = JobSettings(expiry_after_s=16_200, stale_grace_s=86_400, max_deletion_retries=3)
    for k, v in kw.items():
        setattr(settings, k, v)
    return JobService(
        alloc_env.pool,
        csp=csp,
        upstream_errors=(CspDownError,),
        settings=settings,
        clock=clock or Clock(),
    )


async def test_sync_adds_listed_accounts_and_marks_absent_ones_stale(alloc_env) -> None:
    csp = FakeCsp()
    csp.add(5)
    svc = jobs(alloc_env, csp)
    first = await svc.sync()
    assert (first.examined, first.changed) == (5, 5)
    assert await alloc_env.pool.count(SandboxStatus.AVAILABLE) == 5

    del csp.accounts["sbx-00004"]
    csp.add(1, start=10)
    second = await svc.sync()
    assert second.changed == 2  # one new, one stale; unchanged ones are not rewritten
    assert (await alloc_env.pool.get_sandbox("sbx-00004")).status is SandboxStatus.STALE
    again = await svc.sync()
    assert again.changed == 0


async def test_sync_with_csp_down_or_empty_changes_nothing(alloc_env) -> None:
    await alloc_env.seed(3)
    csp = FakeCsp(down=True)
    with pytest.raises(UpstreamUnavailableError):
        await jobs(alloc_env, csp).sync()
    csp.down = False  # up, but lists nothing: must not mark the whole pool stale
    with pytest.raises(UpstreamUnavailableError, match="no accounts"):
        await jobs(alloc_env, csp).sync()
    assert await alloc_env.pool.count(SandboxStatus.AVAILABLE) == 3


async def test_sync_never_frees_an_allocated_sandbox(alloc_env) -> None:
    csp = FakeCsp()
    csp.add(120)
    svc = jobs(alloc_env, csp)
    await svc.sync()
    allocator = alloc_env.service()

    results = await asyncio.gather(
        *(allocator.allocate(allocate_message(f"track-{i}")) for i in range(100)),
        svc.sync(),
        svc.sync(),
    )

    replies = results[:100]
    won = {r.result["sandbox_id"] for r in replies if r.status is ReplyStatus.SUCCEEDED}
    assert len(won) == 100
    for sid in won:
        assert (await alloc_env.pool.get_sandbox(sid)).status is SandboxStatus.ALLOCATED
    assert await alloc_env.pool.count(SandboxStatus.AVAILABLE) == 20


async def test_expire_moves_old_allocations_to_pending_deletion(alloc_env) -> None:
    await alloc_env.seed(2)
    clock = Clock()
    got = await alloc_env.service().allocate(allocate_message("track-a"))
    clock.now = got.result["allocated_at"] + 16_200 + 1

    result = await jobs(alloc_env, FakeCsp(), clock).expire()

    assert (result.examined, result.changed) == (1, 1)
    item = await alloc_env.pool.get_sandbox(got.result["sandbox_id"])
    assert item.status is SandboxStatus.PENDING_DELETION
    assert await alloc_env.pool.get_pointer("track-a") is None


async def test_expire_racing_release_exactly_one_wins(alloc_env) -> None:
    await alloc_env.seed(4)
    svc = alloc_env.service()
    clock = Clock()
    got = [await svc.allocate(allocate_message(f"track-{i}")) for i in range(4)]
    clock.now = max(g.result["allocated_at"] for g in got) + 16_201
    expirer = jobs(alloc_env, FakeCsp(), clock)

    outcome = await asyncio.gather(
        expirer.expire(),
        *(
            svc.release(release_message(f"track-{i}", g.result["sandbox_id"]))
            for i, g in enumerate(got)
        ),
    )

    expired, releases = outcome[0], outcome[1:]
    released_first = sum(1 for r in releases if not r.result["idempotent"])
    assert all(r.status is ReplyStatus.SUCCEEDED for r in releases)
    assert expired.changed + released_first == 4  # each sandbox changed exactly once
    assert await alloc_env.pool.count(SandboxStatus.PENDING_DELETION) == 4


async def test_delete_stale_respects_the_grace_period(alloc_env) -> None:
    csp = FakeCsp()
    csp.add(2)
    clock = Clock()
    svc = jobs(alloc_env, csp, clock)
    await svc.sync()
    csp.accounts.clear()
    csp.add(1, start=50)
    await svc.sync()  # both originals become stale at clock.now
    assert (await svc.delete_stale()).changed == 0
    clock.now += 86_401
    assert (await svc.delete_stale()).changed == 2
    assert await alloc_env.pool.count(SandboxStatus.STALE) == 0


async def test_cleanup_fans_out_and_deletes_retry_then_give_up(alloc_env) -> None:
    csp = FakeCsp()
    csp.add(3)
    clock = Clock()
    svc = jobs(alloc_env, csp, clock)
    await svc.sync()
    await _allocate_and_release(alloc_env, "t", 3)
    published, publish = _collector()

    fanned = await svc.cleanup(publish, request_id="req_cleanup1")
    assert fanned.examined == 3
    assert len({j.sandbox_id for j in published}) == 3
    assert len({j.request_id for j in published}) == 3

    bad = published[0].sandbox_id
    csp.fail_deletes.add(bad)
    ok = [await svc.delete_sandbox(j, attempt=1) for j in published[1:]]
    assert all(o.result.changed == 1 for o in ok)
    retry = await svc.delete_sandbox(published[0], attempt=1)
    assert retry.retry_in_s == 30
    assert (await alloc_env.pool.get_sandbox(bad)).status is SandboxStatus.PENDING_DELETION
    gave_up = await svc.delete_sandbox(published[0], attempt=3)
    assert gave_up.retry_in_s is None
    failed = await alloc_env.pool.get_sandbox(bad)
    assert failed.status is SandboxStatus.DELETION_FAILED
    assert failed.deletion_retry_count == 2
    assert "CspDownError" in failed.deletion_last_error

    published.clear()
    assert (await svc.cleanup(publish, request_id="req_cleanup2")).examined == 0  # not due
    clock.now = failed.deletion_next_attempt_at + 1
    csp.fail_deletes.clear()
    assert (await svc.cleanup(publish, request_id="req_cleanup3")).examined == 1
    done = await svc.delete_sandbox(published[0], attempt=1)
    assert done.result.changed == 1
    assert await alloc_env.pool.get_sandbox(bad) is None
    assert bad in csp.deleted


async def test_a_deletion_and_its_reply_are_written_in_one_transaction(alloc_env) -> None:
    """GIVEN a pending sandbox deleted in the CSP, WHEN delete_sandbox is given the reply's
    transact Put, THEN the item's removal and the reply row land together; and where a
    terminal reply already stands the removal still happens and the old reply is kept."""
    csp = FakeCsp()
    csp.add(2)
    svc = jobs(alloc_env, csp, Clock())
    await svc.sync()
    await _allocate_and_release(alloc_env, "tx", 2)
    published, publish = _collector()

    await svc.cleanup(publish, request_id="req_cleanuptx")
    factory = ReplyFactory(ttl_s=3600)

    def reply_for(job: DeleteSandboxJob):
        def build(result):
            record = factory.job_succeeded(
                request_id=job.request_id,
                action=job.type,
                result=result.model_dump(),
                attempts=1,
            )
            return alloc_env.replies.put_transact_item(record)

        return build

    first, second = published
    outcome = await svc.delete_sandbox(first, attempt=1, reply=reply_for(first))
    assert outcome.reply_written and outcome.result.changed == 1
    assert await alloc_env.pool.get_sandbox(first.sandbox_id) is None
    stored = await alloc_env.replies.get(first.request_id)
    assert stored.status is ReplyStatus.SUCCEEDED
    assert stored.result == {"examined": 1, "changed": 1, "failed": 0}

    earlier = factory.job_failed(
        request_id=second.request_id,
        action=second.type,
        error=UpstreamUnavailableError("an earlier answer"),
        attempts=1,
    )
    await alloc_env.replies.put(earlier)
    outcome = await svc.delete_sandbox(second, attempt=1, reply=reply_for(second))
    assert not outcome.reply_written and outcome.result.changed == 1
    assert await alloc_env.pool.get_sandbox(second.sandbox_id) is None
    assert await alloc_env.replies.get(second.request_id) == earlier


async def _allocate_and_release(alloc_env, prefix: str, n: int) -> None:
    """n tracks each allocate and release: n sandboxes pending deletion."""
    allocator = alloc_env.service()
    for i in range(n):
        got = await allocator.allocate(allocate_message(f"{prefix}{i}"))
        await allocator.release(release_message(f"{prefix}{i}", got.result["sandbox_id"]))


def _collector():
    """A PublishDeletes that keeps what it is given, and the list it keeps it in."""
    published: list[DeleteSandboxJob] = []

    async def publish(batch):
        published.extend(batch)
        return 0

    return published, publish
