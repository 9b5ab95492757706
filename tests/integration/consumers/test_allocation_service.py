"""Allocation and release rules, on a real moto server (DynamoDB over HTTP)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from schemas.errors import ErrorCode
from schemas.pool import SandboxStatus
from schemas.replies import ReplyStatus
from tests.factories import allocate_message, release_message

pytestmark = pytest.mark.integration


async def test_allocate_claims_a_sandbox_and_writes_the_reply_in_one_step(alloc_env) -> None:
    await alloc_env.seed(3)
    svc = alloc_env.service()
    msg = allocate_message("track-a", track_name="lab-x")

    reply = await svc.allocate(msg)

    assert reply.status is ReplyStatus.SUCCEEDED
    result = reply.result
    assert result is not None and result["idempotent"] is False
    assert result["expires_at"] == pytest.approx(result["allocated_at"] + 4 * 3600)
    stored = await alloc_env.replies.get(msg.request_id)
    assert stored is not None and stored.result == result and stored.track_id == "track-a"
    item = await alloc_env.pool.get_sandbox(result["sandbox_id"])
    assert item.status is SandboxStatus.ALLOCATED
    assert item.allocated_to_track == "track-a" and item.track_name == "lab-x"


async def test_repeat_allocate_returns_the_same_sandbox_with_its_original_time(alloc_env) -> None:
    await alloc_env.seed(3)
    svc = alloc_env.service()
    first = await svc.allocate(allocate_message("track-a"))
    again = await svc.allocate(allocate_message("track-a"))

    assert again.result["sandbox_id"] == first.result["sandbox_id"]
    assert again.result["allocated_at"] == first.result["allocated_at"]
    assert again.result["idempotent"] is True
    assert await alloc_env.pool.count(SandboxStatus.ALLOCATED) == 1


async def test_redelivered_message_gives_the_same_reply(alloc_env) -> None:
    await alloc_env.seed(3)
    svc = alloc_env.service()
    msg = allocate_message("track-a")
    first = await svc.allocate(msg, attempts=1)
    # a second consumer process (fresh reservoir) sees the same message again
    second = await alloc_env.service().allocate(msg, attempts=2)

    assert second.model_dump(exclude={"attempts"}) == first.model_dump(exclude={"attempts"})
    assert await alloc_env.pool.count(SandboxStatus.ALLOCATED) == 1


async def test_exhausted_pool_answers_no_sandboxes_but_an_owner_still_gets_its_own(
    alloc_env,
) -> None:
    await alloc_env.seed(1)
    svc = alloc_env.service()
    owner = await svc.allocate(allocate_message("track-a"))
    refused = await svc.allocate(allocate_message("track-b"))
    again = await svc.allocate(allocate_message("track-a"))

    assert refused.status is ReplyStatus.FAILED
    assert refused.error.code is ErrorCode.NO_SANDBOXES_AVAILABLE
    assert refused.error.retry_after == 30
    assert again.result["sandbox_id"] == owner.result["sandbox_id"]


async def test_a_refusal_is_one_conditional_write_and_a_redelivery_gets_the_same_reply(
    alloc_env, ddb
) -> None:
    """No pointer read plus reply write: one TransactWriteItems (pointer check + reply)."""
    await alloc_env.seed(1)
    svc = alloc_env.service()
    await svc.allocate(allocate_message("track-a"))
    calls: list[str] = []

    def count(event_name: str, **_: object) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    ddb.meta.events.register("before-call.dynamodb", count)
    try:
        msg = allocate_message("track-b")
        refused = await svc.allocate(msg)
        refusal_calls = [c for c in calls if c != "Query"]  # the reservoir's index read
        calls.clear()
        again = await alloc_env.service().allocate(msg, attempts=2)  # redelivered
    finally:
        ddb.meta.events.unregister("before-call.dynamodb", count)

    assert refused.error is not None and refused.error.code is ErrorCode.NO_SANDBOXES_AVAILABLE
    assert refusal_calls == ["TransactWriteItems"]
    assert again.model_dump() == refused.model_dump()
    assert await alloc_env.replies.get(msg.request_id) == refused


async def test_name_prefix_only_allocates_matching_sandboxes(alloc_env) -> None:
    await alloc_env.seed(5, prefix="lab-aws")
    await alloc_env.seed(2, prefix="lab-gcp", start=100)
    svc = alloc_env.service(page_size=2)  # small pages: the filter must page past misses

    got = [await svc.allocate(allocate_message(f"t{i}", name_prefix="lab-gcp")) for i in range(3)]

    assert [r.status for r in got] == [ReplyStatus.SUCCEEDED] * 2 + [ReplyStatus.FAILED]
    assert all(r.result["name"].startswith("lab-gcp") for r in got[:2])
    assert got[2].error.code is ErrorCode.NO_SANDBOXES_AVAILABLE
    assert await alloc_env.pool.count(SandboxStatus.AVAILABLE) == 5


async def test_release_is_owner_only_and_idempotent(alloc_env) -> None:
    await alloc_env.seed(2)
    svc = alloc_env.service()
    got = await svc.allocate(allocate_message("track-a"))
    sid = got.result["sandbox_id"]

    stranger = await svc.release(release_message("track-b", sid))
    released = await svc.release(release_message("track-a", sid))
    repeat = await svc.release(release_message("track-a", sid))
    unknown = await svc.release(release_message("track-a", "no-such-sandbox"))

    # A stranger learns nothing about another track's sandbox: the same answer as an
    # unknown id (GET /v1/sandboxes/{id} answers both 404 alike).
    assert stranger.error.code is ErrorCode.SANDBOX_NOT_FOUND
    assert released.status is ReplyStatus.SUCCEEDED
    assert released.result == {"sandbox_id": sid, "status": "pending_deletion", "idempotent": False}
    assert repeat.result["idempotent"] is True
    assert unknown.error.code is ErrorCode.SANDBOX_NOT_FOUND
    assert stranger.error.message.replace(sid, "ID") == unknown.error.message.replace(
        "no-such-sandbox", "ID"
    )
    assert stranger.error.model_dump(exclude={"message"}) == unknown.error.model_dump(
        exclude={"message"}
    )
    assert (await alloc_env.pool.get_sandbox(sid)).status is SandboxStatus.PENDING_DELETION
    assert await alloc_env.pool.get_pointer("track-a") is None

    after = await svc.allocate(allocate_message("track-a"))  # re-allocate after release
    assert after.status is ReplyStatus.SUCCEEDED and after.result["sandbox_id"] != sid


@pytest.mark.slow
async def test_200_tracks_against_150_sandboxes_two_consumers(alloc_env) -> None:
    """Exactly 150 distinct winners, 50 NO_SANDBOXES, none refused while any was free."""
    await alloc_env.seed(150)
    consumers = [alloc_env.service(page_size=50), alloc_env.service(page_size=50)]
    msgs = [allocate_message(f"track-{i:03d}") for i in range(200)]

    replies = await asyncio.gather(*(consumers[i % 2].allocate(m) for i, m in enumerate(msgs)))

    won = [r for r in replies if r.status is ReplyStatus.SUCCEEDED]
    lost = [r for r in replies if r.status is ReplyStatus.FAILED]
    assert len(won) == 150 and len({r.result["sandbox_id"] for r in won}) == 150
    assert len(lost) == 50
    assert {r.error.code for r in lost} == {ErrorCode.NO_SANDBOXES_AVAILABLE}
    assert await alloc_env.pool.count(SandboxStatus.AVAILABLE) == 0


@pytest.mark.slow
async def test_three_concurrent_allocates_per_track_give_one_sandbox_each(alloc_env) -> None:
    """Even without FIFO serialisation, the pointer keeps one sandbox per track."""
    await alloc_env.seed(200)
    consumers = [alloc_env.service(), alloc_env.service(), alloc_env.service()]
    msgs = [allocate_message(f"track-{t:02d}") for t in range(50) for _ in range(3)]

    replies = await asyncio.gather(*(consumers[i % 3].allocate(m) for i, m in enumerate(msgs)))

    per_track: dict[str, set[str]] = {}
    for msg, reply in zip(msgs, replies, strict=True):
        assert reply.status is ReplyStatus.SUCCEEDED
        per_track.setdefault(msg.track_id, set()).add(reply.result["sandbox_id"])
    assert all(len(s) == 1 for s in per_track.values())
    assert len({next(iter(s)) for s in per_track.values()}) == 50
    assert await alloc_env.pool.count(SandboxStatus.ALLOCATED) == 50
    assert Counter(r.result["idempotent"] for r in replies) == {False: 50, True: 100}
