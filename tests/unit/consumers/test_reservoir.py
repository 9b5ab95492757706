"""The candidate reservoir hands out distinct candidates and never says "none" too early."""

from __future__ import annotations

import asyncio
import random

import pytest

from consumers.services.reservoir import CandidateReservoir, CandidateShard
from tests.factories import sandbox


class FakeIndex:
    """StatusIndex as a list: pages of ``limit`` available sandboxes, with a call count."""

    def __init__(self, n: int) -> None:
        self.available = {s.sandbox_id: s for s in (sandbox(i) for i in range(n))}
        self.calls = 0

    async def page(self, prefix, limit, start):
        self.calls += 1
        items = sorted(self.available.values(), key=lambda s: s.sandbox_id)
        if prefix:
            items = [s for s in items if s.name.startswith(prefix)]
        offset = start["offset"] if start else 0
        chunk = items[offset : offset + limit]
        more = offset + limit < len(items)
        return chunk, ({"offset": offset + limit} if more else None)


async def test_concurrent_takers_get_distinct_candidates_from_one_query() -> None:
    index = FakeIndex(50)
    res = CandidateReservoir(index.page, page_size=50, rng=random.Random(1))

    got = await asyncio.gather(*(res.take() for _ in range(50)))

    assert len({c.sandbox_id for c in got}) == 50
    assert index.calls == 1


async def test_none_only_when_the_index_is_empty() -> None:
    index = FakeIndex(2)
    res = CandidateReservoir(index.page, page_size=10)
    a, b = await res.take(), await res.take()
    for c in (a, b):
        index.available.pop(c.sandbox_id)
        res.consumed(c)
    assert await res.take() is None


async def test_waits_for_an_in_flight_candidate_instead_of_answering_none() -> None:
    """A candidate given back (its track already had one) is still available to others."""
    index = FakeIndex(1)
    res = CandidateReservoir(index.page, page_size=10)
    held = await res.take()
    waiter = asyncio.create_task(res.take())
    await asyncio.sleep(0)  # let the waiter find only an in-flight candidate
    assert not waiter.done()

    res.give_back(held)

    again = await asyncio.wait_for(waiter, timeout=5)
    assert again is not None and again.sandbox_id == held.sandbox_id


async def test_consumed_candidates_are_not_handed_out_from_a_lagging_index() -> None:
    index = FakeIndex(3)
    res = CandidateReservoir(index.page, page_size=10)
    first = await res.take()
    res.consumed(first)  # claimed, but the (eventually consistent) index still lists it
    rest = [await res.take(), await res.take()]
    for c in rest:
        res.consumed(c)
    assert first.sandbox_id not in {c.sandbox_id for c in rest}
    assert await res.take() is None


async def test_prefix_pages_past_non_matching_items() -> None:
    index = FakeIndex(30)
    index.available["x"] = sandbox(999, prefix="lab-gcp").model_copy(update={"sandbox_id": "x"})
    res = CandidateReservoir(index.page, page_size=5)
    got = await res.take("lab-gcp")
    assert got is not None and got.sandbox_id == "x"


class SlowIndex(FakeIndex):
    """A page read that takes a moment, as a Query does: other takers run meanwhile."""

    async def page(self, prefix, limit, start):
        await asyncio.sleep(0.001)
        return await super().page(prefix, limit, start)


async def test_concurrent_takers_on_an_empty_index_share_one_query() -> None:
    """Past the pool's size, refused requests do not each read the index again."""
    index = SlowIndex(0)
    res = CandidateReservoir(index.page, page_size=10)

    got = await asyncio.gather(*(res.take() for _ in range(20)))

    assert got == [None] * 20
    # the first taker's read began before the others came, so it cannot answer them; the
    # second read, begun after all had come, answers all of them
    assert index.calls == 2


async def test_an_empty_read_from_before_the_call_does_not_answer_it() -> None:
    """Only a read that started after the call may say "none" for it."""
    index = FakeIndex(0)
    res = CandidateReservoir(index.page, page_size=10)
    assert await res.take() is None
    index.available["late"] = sandbox(7).model_copy(update={"sandbox_id": "late"})

    got = await res.take()

    assert got is not None and got.sandbox_id == "late"
    assert index.calls == 2


async def test_waiters_on_in_flight_candidates_do_not_each_requery() -> None:
    index = SlowIndex(1)
    res = CandidateReservoir(index.page, page_size=10)
    held = await res.take()
    waiters = [asyncio.create_task(res.take()) for _ in range(10)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)
    calls_while_waiting = index.calls

    index.available.pop(held.sandbox_id)
    res.consumed(held)
    got = await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)

    assert got == [None] * 10
    # the first fill; the first waiter's read, which found it in flight; one read begun
    # after the other waiters came — then one more once it was resolved
    assert calls_while_waiting == 3
    assert index.calls == 4


async def test_sharded_reservoirs_hand_out_disjoint_candidates_until_their_own_run_out() -> None:
    """Four processes' reservoirs on one index: each takes its own shard first (no two hold
    the same candidate), and then the others' leftovers rather than answering "none"."""
    index = FakeIndex(200)
    shards = [CandidateShard(i, 4) for i in range(4)]
    reservoirs = [
        CandidateReservoir(index.page, page_size=10, shard=s, rng=random.Random(i))
        for i, s in enumerate(shards)
    ]
    owned = {i: sum(s.owns(sid) for sid in index.available) for i, s in enumerate(shards)}
    assert all(owned.values())  # the hash spreads 200 ids over the four shards

    first = []
    for i, res in enumerate(reservoirs):
        for _ in range(owned[i]):
            candidate = await res.take()
            assert candidate is not None and shards[i].owns(candidate.sandbox_id)
            first.append(candidate.sandbox_id)
    assert len(set(first)) == len(first) == 200

    # every shard but 0 is claimed (gone from the index); shard 0's are still listed, as
    # when process 0 is slow: process 1 is handed one of them, never "none"
    for sid in list(index.available):
        if not shards[0].owns(sid):
            del index.available[sid]
    leftover = await reservoirs[1].take()
    assert leftover is not None and shards[0].owns(leftover.sandbox_id)


def test_a_shard_is_parsed_and_checked() -> None:
    assert CandidateShard.parse("2/8") == CandidateShard(2, 8)
    assert CandidateShard().owns("anything")
    with pytest.raises(ValueError, match="index < count"):
        CandidateShard.parse("8/8")
