"""The tenant directory's cache: concurrent misses of one key share one read."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from consumers.stores.tenants import TenantDirectory


class GatedStore:
    """A store whose reads wait until the test opens the gate, counting them."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.reads = 0
        self.fail: Exception | None = None

    async def get(self, name: str) -> Any:
        self.reads += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return f"config of {name}"

    async def grant(self, token: str) -> Any:
        return await self.get(token)


def directory(store: GatedStore) -> TenantDirectory:
    return TenantDirectory(store, ttl_s=30, clock=lambda: 1000.0)  # type: ignore[arg-type]


async def test_a_burst_of_misses_for_one_tenant_makes_one_read() -> None:
    # GIVEN an empty cache and a read that has not answered yet
    store = GatedStore()
    cache = directory(store)
    burst = [asyncio.ensure_future(cache.config("acme")) for _ in range(200)]
    await asyncio.sleep(0)  # let every request reach the cache (no wall time passes)
    # WHEN the read answers
    store.gate.set()
    answers = await asyncio.gather(*burst)
    # THEN one read served all 200, and the next ones come from the cache
    assert store.reads == 1
    assert set(answers) == {"config of acme"}
    assert await cache.config("acme") == "config of acme" and store.reads == 1


async def test_other_keys_are_read_on_their_own() -> None:
    store = GatedStore()
    store.gate.set()
    cache = directory(store)
    assert await asyncio.gather(cache.config("a"), cache.config("b"), cache.grant("a")) == [
        "config of a",
        "config of b",
        "config of a",
    ]
    assert store.reads == 3  # a grant and a config of the same string are different keys


async def test_a_failed_read_fails_its_waiters_and_is_not_cached() -> None:
    store = GatedStore()
    store.fail = RuntimeError("table unavailable")
    cache = directory(store)
    burst = [asyncio.ensure_future(cache.config("acme")) for _ in range(5)]
    await asyncio.sleep(0)
    store.gate.set()
    results = await asyncio.gather(*burst, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert store.reads == 1
    store.fail = None
    assert await cache.config("acme") == "config of acme"  # read again, now it answers
    assert store.reads == 2


async def test_a_cancelled_reader_leaves_its_waiters_to_read_for_themselves() -> None:
    store = GatedStore()
    cache = directory(store)
    reader = asyncio.ensure_future(cache.config("acme"))
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(cache.config("acme"))
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    store.gate.set()
    assert await waiter == "config of acme"
    assert store.reads == 2
