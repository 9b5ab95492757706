"""Sync racing a deletion (found by the soak benchmark): a sync whose CSP listing began
before cleanup deleted a sandbox must not bring that sandbox back as available."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from schemas.errors import ErrorCode
from schemas.items import from_item
from schemas.pool import TOMBSTONE_TTL_S, SandboxStatus, tombstone_key
from tests.factories import allocate_message
from tests.integration.consumers.test_jobs_service import (
    Account,
    Clock,
    FakeCsp,
    _allocate_and_release,
    _collector,
    jobs,
)

pytestmark = pytest.mark.integration


@dataclass
class ListingThenHook(FakeCsp):
    """A CSP whose listing is taken when asked, and returned only after ``during`` ran:
    whatever ``during`` does lands between the listing and sync's writes."""

    during: list = field(default_factory=list)

    async def list_accounts(self):
        listing = await super().list_accounts()
        while self.during:
            await self.during.pop(0)()
        return listing


async def test_a_sync_that_listed_a_sandbox_before_its_deletion_does_not_bring_it_back(
    alloc_env,
) -> None:
    """GIVEN sandbox X allocated, released and pending deletion, WHEN a sync lists the CSP
    (X still there), THEN cleanup deletes X at the CSP and removes its item, THEN the sync's
    writes run, X is not in the pool (no track can be given it) and its tombstone records
    the deletion; AND a later sync whose listing shows X again (re-created) makes it
    available and allocatable."""
    csp = ListingThenHook()
    csp.add(1)
    clock = Clock()
    svc = jobs(alloc_env, csp, clock)
    await svc.sync()
    await _allocate_and_release(alloc_env, "race", 1)
    (x,) = csp.accounts
    assert (await alloc_env.pool.get_sandbox(x)).status is SandboxStatus.PENDING_DELETION
    published, publish = _collector()

    async def cleanup_deletes_x() -> None:
        clock.now += 1  # the deletion happens after the listing began
        await svc.cleanup(publish, request_id="req_racecl")
        assert (await svc.delete_sandbox(published[0], attempt=1)).result.changed == 1
        assert await alloc_env.pool.get_sandbox(x) is None
        assert x in csp.deleted and x not in csp.accounts

    csp.during.append(cleanup_deletes_x)
    stale = await svc.sync()  # listed X, then X was deleted, then the upsert ran
    assert not csp.during, "the interleaving did not happen"
    assert await alloc_env.pool.get_sandbox(x) is None, "sync brought back a deleted sandbox"
    assert stale.changed == 0
    assert await alloc_env.pool.count(SandboxStatus.AVAILABLE) == 0
    refused = await alloc_env.service().allocate(allocate_message("race-b"))
    assert refused is not None and refused.error is not None
    assert refused.error.code is ErrorCode.NO_SANDBOXES_AVAILABLE
    tomb = await alloc_env.pool._ddb.get_item(
        TableName=alloc_env.pool.table,
        Key={k: {"S": v} for k, v in tombstone_key(x).items()},
        ConsistentRead=True,
    )
    stone = from_item(tomb["Item"])
    assert stone["deleted_at"] == clock.now and stone["ttl"] == clock.now + TOMBSTONE_TTL_S
    assert "status" not in stone  # in no index

    # the CSP re-creates X; a sync listing after the deletion brings it back
    clock.now += 1
    csp.accounts[x] = Account(x, "lab-aws-recreated", f"identity/accounts/{x}")
    again = await svc.sync()
    assert again.changed == 1
    back = await alloc_env.pool.get_sandbox(x)
    assert back is not None and back.status is SandboxStatus.AVAILABLE
    assert back.name == "lab-aws-recreated"
    got = await alloc_env.service().allocate(allocate_message("race-c"))
    assert got.result["sandbox_id"] == x
