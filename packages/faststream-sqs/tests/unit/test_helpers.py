"""faststream_sqs.helpers without SQS: batches of ten, the queue URL cache."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from faststream_sqs.helpers import MAX_BATCH_ENTRIES, QueueUrls, chunks


def test_chunks_cut_into_tens() -> None:
    assert [len(c) for c in chunks(list(range(23)))] == [10, 10, 3]
    assert chunks([]) == []
    assert MAX_BATCH_ENTRIES == 10


class FakeSQS:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.release = asyncio.Event()

    async def get_queue_url(self, *, QueueName: str) -> dict[str, Any]:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise RuntimeError("unreachable")
        return {"QueueUrl": f"https://sqs/{QueueName}"}


async def test_concurrent_lookups_share_one_call_and_a_failure_is_not_cached() -> None:
    sqs = FakeSQS()
    urls = QueueUrls(sqs)  # type: ignore[arg-type]
    sqs.fail = True
    waiting = [asyncio.ensure_future(urls.url("q")) for _ in range(5)]
    await asyncio.sleep(0)
    sqs.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert sqs.calls == 1
    assert all(isinstance(r, RuntimeError) for r in results)

    sqs.fail = False
    assert await urls.url("q") == "https://sqs/q"
    assert await urls.url("q") == "https://sqs/q"
    assert sqs.calls == 2
    urls.forget("q")
    assert await urls.url("q") == "https://sqs/q"
    assert sqs.calls == 3


@pytest.mark.parametrize("size", [1, 3])
def test_chunks_take_a_size(size: int) -> None:
    assert chunks([1, 2, 3], size) == [[1, 2, 3][i : i + size] for i in range(0, 3, size)]
