"""The stream reader's loop with in-memory stand-ins: stop, checkpoints, closed shards."""

from __future__ import annotations

import asyncio
from typing import Any

from consumers.events.reader import StreamReader
from schemas.items import to_item


def _record(seq: int, status: str) -> dict[str, Any]:
    new = {"PK": "SBX#s1", "SK": "META", "sandbox_id": "s1", "name": "n", "status": status}
    new |= {"updated_at": float(seq)}
    return {"dynamodb": {"SequenceNumber": str(seq), "NewImage": to_item(new)}}


class Streams:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.iterators: list[dict[str, Any]] = []

    async def describe_stream(self, **kw: Any) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "sh-1"}]}}

    async def get_shard_iterator(self, **kw: Any) -> dict[str, Any]:
        self.iterators.append(kw)
        return {"ShardIterator": "it-0"}

    async def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:
        start = int(ShardIterator.split("-")[1])
        batch = self.records[start:]
        return {"Records": batch, "NextShardIterator": f"it-{start + len(batch)}"}


class Ddb:
    async def describe_table(self, **kw: Any) -> dict[str, Any]:
        return {"Table": {"LatestStreamArn": "arn:stream"}}


class History:
    def __init__(self, checkpoint: str | None = None) -> None:
        self.saved: list[str] = []
        self._checkpoint = checkpoint

    async def checkpoint(self, shard_id: str) -> str | None:
        return self._checkpoint

    async def save_checkpoint(self, shard_id: str, seq: str) -> None:
        self.saved.append(seq)

    async def apply(self, op: object) -> bool:
        return True


async def test_stop_abandons_a_batch_whose_events_cannot_be_delivered() -> None:
    blocked = asyncio.Event()

    async def publish(events: list[Any]) -> None:
        blocked.set()
        await asyncio.Event().wait()  # a webhook that never comes back

    history = History()
    reader = StreamReader(
        ddb=Ddb(),
        streams=Streams([_record(1, "available")]),
        table="t",
        history=history,
        publish=publish,  # type: ignore[arg-type]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop))
    await asyncio.wait_for(blocked.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert history.saved == []  # nothing checkpointed: the next start publishes it again


async def test_a_checkpoint_after_each_delivered_batch_and_resume_after_it() -> None:
    got: list[str] = []

    async def publish(events: list[Any]) -> None:
        got.extend(e.type.value for e in events)

    streams = Streams([_record(1, "available"), _record(2, "quarantined")])
    history = History(checkpoint="0")
    reader = StreamReader(
        ddb=Ddb(),
        streams=streams,
        table="t",
        history=history,
        publish=publish,  # type: ignore[arg-type]
    )
    assert await reader.poll_once() == 2
    assert got == ["sandbox.returned", "sandbox.quarantined"]
    assert history.saved == ["2"]
    assert streams.iterators[0]["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
    assert await reader.poll_once() == 0 and history.saved == ["2"]
