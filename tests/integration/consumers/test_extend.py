"""Extend (v2) on a real moto server: owner only, capped, idempotent, racing expire cleanly."""

from __future__ import annotations

import asyncio

import pytest

from consumers.services.jobs import JobService, JobSettings
from consumers.services.leases import LeaseService
from consumers.services.replies import ReplyFactory
from consumers.stores.leases import LeaseStore
from schemas.errors import ErrorCode
from schemas.messages import ExtendMessage
from schemas.pool import SandboxStatus
from schemas.replies import ReplyStatus
from tests.factories import allocate_message, release_message, request_id

pytestmark = pytest.mark.integration

LAB_S = 4 * 3600
MAX_LEASE_S = 6 * 3600


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def leases(alloc_env, *, extension_s: int = 3600, max_lease_s: int = MAX_LEASE_S) -> LeaseService:
    return LeaseService(
        LeaseStore(alloc_env.pool, alloc_env.pool._ddb),
        reply_factory=ReplyFactory(ttl_s=3600),
        metrics=alloc_env.metrics,
        lab_duration_s=LAB_S,
        extension_s=extension_s,
        max_lease_s=max_lease_s,
    )


def extend(track_id: str, sandbox_id: str, by: int | None = None, **kw) -> ExtendMessage:
    return ExtendMessage(
        request_id=kw.pop("request_id", request_id()),
        track_id=track_id,
        sandbox_id=sandbox_id,
        extend_by_s=by,
        **kw,
    )


async def allocated(alloc_env, track_id: str = "track-a") -> dict:
    await alloc_env.seed(2)
    reply = await alloc_env.service().allocate(allocate_message(track_id))
    assert reply.status is ReplyStatus.SUCCEEDED
    return reply.result


async def test_extend_pushes_expires_at_on_the_item_pointer_and_reply(alloc_env) -> None:
    got = await allocated(alloc_env)
    sid = got["sandbox_id"]

    reply = await leases(alloc_env).extend(extend("track-a", sid, 600))

    assert reply.status is ReplyStatus.SUCCEEDED
    assert reply.result == {
        "sandbox_id": sid,
        "expires_at": pytest.approx(got["expires_at"] + 600),
        "idempotent": False,
    }
    item = await alloc_env.pool.get_sandbox(sid)
    assert item.expires_at == pytest.approx(got["expires_at"] + 600)
    assert item.extensions == 1
    # an idempotent allocate now answers the extended lease
    pointer = await alloc_env.pool.get_pointer("track-a")
    assert pointer.expires_at == pytest.approx(got["expires_at"] + 600)
    stored = await alloc_env.replies.get(reply.request_id)
    assert stored.result == reply.result and stored.action == "extend"


async def test_extend_without_a_duration_uses_extension_s(alloc_env) -> None:
    got = await allocated(alloc_env)
    reply = await leases(alloc_env, extension_s=900).extend(extend("track-a", got["sandbox_id"]))
    assert reply.result["expires_at"] == pytest.approx(got["expires_at"] + 900)


async def test_extend_is_capped_at_allocated_at_plus_max_lease_then_refused(alloc_env) -> None:
    got = await allocated(alloc_env)
    sid = got["sandbox_id"]
    svc = leases(alloc_env)  # lab 4 h, max lease 6 h: 2 h can be added in all

    first = await svc.extend(extend("track-a", sid, 5400))  # +1.5 h
    capped = await svc.extend(extend("track-a", sid, 5400))  # +0.5 h left
    refused = await svc.extend(extend("track-a", sid, 60))

    limit = got["allocated_at"] + MAX_LEASE_S
    assert first.result["expires_at"] == pytest.approx(got["expires_at"] + 5400)
    assert capped.status is ReplyStatus.SUCCEEDED
    assert capped.result["expires_at"] == pytest.approx(limit)
    assert refused.status is ReplyStatus.FAILED and refused.result is None
    assert refused.error.code is ErrorCode.LEASE_LIMIT_REACHED
    assert (await alloc_env.pool.get_sandbox(sid)).expires_at == pytest.approx(limit)


async def test_a_redelivered_extend_never_extends_twice(alloc_env) -> None:
    got = await allocated(alloc_env)
    sid = got["sandbox_id"]
    svc = leases(alloc_env)
    msg = extend("track-a", sid, 600)

    first = await svc.extend(msg)
    again = await svc.extend(msg, attempts=2)
    # even when the reply row is gone (TTL), the item remembers the request
    await alloc_env.replies._ddb.delete_item(
        TableName=alloc_env.replies.table, Key={"request_id": {"S": msg.request_id}}
    )
    third = await svc.extend(msg, attempts=3)

    assert again == first
    assert third.status is ReplyStatus.SUCCEEDED
    assert third.result["expires_at"] == pytest.approx(got["expires_at"] + 600)
    item = await alloc_env.pool.get_sandbox(sid)
    assert item.expires_at == pytest.approx(got["expires_at"] + 600) and item.extensions == 1


async def test_concurrent_extends_each_apply_once(alloc_env) -> None:
    got = await allocated(alloc_env)
    sid = got["sandbox_id"]
    svc = leases(alloc_env, max_lease_s=48 * 3600)

    replies = await asyncio.gather(*(svc.extend(extend("track-a", sid, 60)) for _ in range(5)))

    assert all(r.status is ReplyStatus.SUCCEEDED for r in replies)
    item = await alloc_env.pool.get_sandbox(sid)
    assert item.expires_at == pytest.approx(got["expires_at"] + 300)
    assert item.extensions == 5
    assert max(r.result["expires_at"] for r in replies) == pytest.approx(item.expires_at)


async def test_only_the_owner_extends(alloc_env) -> None:
    got = await allocated(alloc_env)
    sid = got["sandbox_id"]
    svc = leases(alloc_env)

    other = await svc.extend(extend("track-b", sid, 600))
    other_tenant = await svc.extend(extend("track-a", sid, 600, tenant="acme"))
    unknown = await svc.extend(extend("track-a", "sbx-nope", 600))
    await alloc_env.service().release(release_message("track-a", sid))
    released = await svc.extend(extend("track-a", sid, 600))

    # a stranger (another track, or the same track id in another tenant) learns no more
    # than an unknown id tells: one code, one message shape
    assert other.error.code is ErrorCode.SANDBOX_NOT_FOUND
    assert other_tenant.error.code is ErrorCode.SANDBOX_NOT_FOUND
    assert unknown.error.code is ErrorCode.SANDBOX_NOT_FOUND
    assert other.error.message == unknown.error.message.replace("sbx-nope", sid)
    assert other_tenant.tenant == "acme"  # its own tenant's track can read the reply
    assert released.error.code is ErrorCode.NOT_SANDBOX_OWNER
    assert (await alloc_env.pool.get_sandbox(sid)).expires_at == pytest.approx(got["expires_at"])


def _expirer(alloc_env, clock: Clock) -> JobService:
    return JobService(
        alloc_env.pool,
        csp=None,  # type: ignore[arg-type]  # expire never calls the CSP
        upstream_errors=(),
        settings=JobSettings(
            expiry_after_s=LAB_S + 1800,
            stale_grace_s=86_400,
            max_deletion_retries=3,
            expiry_buffer_s=1800,
            lab_duration_s=LAB_S,
        ),
        clock=clock,
    )


async def test_expire_acts_on_expires_at_plus_buffer_so_an_extended_lease_lives_on(
    alloc_env,
) -> None:
    got = await allocated(alloc_env)
    sid = got["sandbox_id"]
    await leases(alloc_env).extend(extend("track-a", sid, 3600))
    clock = Clock(got["expires_at"] + 1800 + 1)  # the old expiry + buffer has passed

    early = await _expirer(alloc_env, clock).expire()
    clock.now = got["expires_at"] + 3600 + 1800 + 1
    late = await _expirer(alloc_env, clock).expire()

    assert (early.examined, early.changed) == (0, 0)
    assert (late.examined, late.changed) == (1, 1)
    assert (await alloc_env.pool.get_sandbox(sid)).status is SandboxStatus.PENDING_DELETION


async def test_an_extend_racing_an_expire_wins_or_is_refused_cleanly(alloc_env) -> None:
    """expire writes only on the expires_at it read: whichever lands first stands."""
    got = await allocated(alloc_env)
    sid = got["sandbox_id"]
    read = await alloc_env.pool.get_sandbox(sid)
    reply = await leases(alloc_env).extend(extend("track-a", sid, 600))  # lands first

    # expire decided on the lease as it was before the extend: its write is refused
    assert not await alloc_env.pool.expire(read, now=got["expires_at"] + 1801)
    assert reply.status is ReplyStatus.SUCCEEDED
    item = await alloc_env.pool.get_sandbox(sid)
    assert item.status is SandboxStatus.ALLOCATED

    # and once expired, an extend is refused (the track no longer owns it)
    assert await alloc_env.pool.expire(item, now=item.expires_at + 1801)
    late = await leases(alloc_env).extend(extend("track-a", sid, 600))
    assert late.error.code is ErrorCode.NOT_SANDBOX_OWNER
