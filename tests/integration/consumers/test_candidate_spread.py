"""Candidate pages start at a random point, so consumer processes do not share one first page."""

from __future__ import annotations

import random
import uuid

from botocore.exceptions import ClientError

from consumers.stores.pool import PoolStore
from tests.factories import sandbox


async def _seed_uuid_ids(alloc_env, count: int, rng: random.Random) -> set[str]:
    ids = set()
    for n in range(count):
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))  # like the CSP's account ids
        assert await alloc_env.pool.put_available(sandbox(n).model_copy(update={"sandbox_id": sid}))
        ids.add(sid)
    return ids


async def _all_pages(pool: PoolStore, limit: int) -> list[str]:
    seen, start = [], None
    while True:
        items, start = await pool.candidate_page(name_prefix=None, limit=limit, start_key=start)
        seen += [c.sandbox_id for c in items]
        if start is None:
            return seen


async def test_first_pages_of_two_stores_differ(alloc_env, ddb) -> None:
    ids = await _seed_uuid_ids(alloc_env, 200, random.Random(7))
    table, replies = alloc_env.pool.table, alloc_env.replies
    one = PoolStore(ddb, table=table, replies=replies, rng=random.Random(1))
    two = PoolStore(ddb, table=table, replies=replies, rng=random.Random(2))

    first_one, _ = await one.candidate_page(name_prefix=None, limit=20)
    first_two, _ = await two.candidate_page(name_prefix=None, limit=20)

    overlap = {c.sandbox_id for c in first_one} & {c.sandbox_id for c in first_two}
    assert len(first_one) == len(first_two) == 20
    assert len(overlap) < 10
    assert {c.sandbox_id for c in first_one + first_two} <= ids


async def test_a_spread_listing_still_lists_every_available_sandbox(alloc_env, ddb) -> None:
    ids = await _seed_uuid_ids(alloc_env, 120, random.Random(8))
    store = PoolStore(
        ddb, table=alloc_env.pool.table, replies=alloc_env.replies, rng=random.Random(3)
    )
    for _ in range(5):  # five random starts, each followed to the end and wrapped
        assert set(await _all_pages(store, limit=25)) == ids


async def test_an_empty_index_ends_the_listing(alloc_env, ddb) -> None:
    store = PoolStore(
        ddb, table=alloc_env.pool.table, replies=alloc_env.replies, rng=random.Random(4)
    )
    assert await _all_pages(store, limit=25) == []  # nothing to learn the id shape from

    store._spread.saw(str(uuid.UUID(int=5, version=4)))  # as if it had seen one before
    assert await _all_pages(store, limit=25) == []


class RefusesMadeUpStartKeys:
    """A DynamoDB client that, like a stricter endpoint might, refuses a start key that
    names no item (the random start of a spread listing)."""

    def __init__(self, ddb, ids: set[str]) -> None:
        self._ddb, self._ids, self.refused = ddb, ids, 0

    async def query(self, **kwargs):
        start = kwargs.get("ExclusiveStartKey")
        if start is not None and start["PK"]["S"].removeprefix("SBX#") not in self._ids:
            self.refused += 1
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "invalid start key"}},
                "Query",
            )
        return await self._ddb.query(**kwargs)


async def test_a_refused_random_start_falls_back_to_listing_from_the_beginning(
    alloc_env, ddb
) -> None:
    ids = await _seed_uuid_ids(alloc_env, 30, random.Random(3))
    strict = RefusesMadeUpStartKeys(ddb, ids)
    pool = PoolStore(strict, table=alloc_env.pool.table, replies=alloc_env.replies)

    listed = await _all_pages(pool, limit=7)
    again = await _all_pages(pool, limit=7)

    assert set(listed) == set(again) == ids
    assert strict.refused == 1  # once refused, the store stops trying
