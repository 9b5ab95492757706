"""The local stream reader: pool-table changes → history items and published events.

``sandbox-broker events`` runs it (``up`` starts one). It reads the pool table's DynamoDB
Stream shard by shard, from its checkpoint (or the stream's oldest record), and for every
batch of records: writes the history (conditional writes, so a replay changes nothing),
publishes the events (log line + webhook, retried until taken), and only then stores the
checkpoint — so a crash or a webhook outage replays a batch (the same event ids) and never
skips one. Batches that mean nothing (pointers, markers, history items, checkpoints) leave
the checkpoint where it is, so the reader's own writes never feed it more records.

On AWS the same ``changes.meaning`` runs in the stream Lambda (``infra/events_lambda``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from botocore.exceptions import ClientError

from consumers.events.changes import Meaning, meaning
from consumers.stores.history import HistoryStore
from schemas.events import LeaseEvent

log = structlog.get_logger(__name__)

#: Wait between polls of a stream that had nothing new (a busy stream is read back to back).
IDLE_POLL_S: Final = 0.25
RECORDS_PER_CALL: Final = 1000
#: How often the shard list is read again (shards split every few hours on AWS).
SHARD_REFRESH_S: Final = 10.0
#: Iterators that a restart or a long outage can leave unusable: read again from the
#: checkpoint (or the oldest record).
_STALE_ITERATOR: Final = frozenset({"ExpiredIteratorException", "TrimmedDataAccessException"})

Publish = Callable[[list[LeaseEvent]], Awaitable[None]]


@dataclass
class _Shard:
    shard_id: str
    parent: str | None
    iterator: str | None = None
    closed: bool = False


@dataclass
class StreamReader:
    ddb: Any
    streams: Any
    table: str
    history: HistoryStore
    publish: Publish
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    _stream_arn: str | None = None
    _shards: dict[str, _Shard] = field(default_factory=dict)
    _shards_read_at: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Read until ``stop`` is set. A batch still being published then (a webhook that is
        down) is abandoned before its checkpoint: the next start publishes it again."""
        log.info("events_reader_started", table=self.table)
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                poll = asyncio.ensure_future(self.poll_once())
                await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not poll.done():
                    poll.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await poll
                    break
                if poll.result() == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stopped), IDLE_POLL_S)
        finally:
            stopped.cancel()
        log.info("events_reader_stopped", table=self.table)

    async def poll_once(self) -> int:
        """One pass over every open shard; how many records were read."""
        arn = await self._arn()
        stale = self._shards_read_at is None
        stale = stale or self.monotonic() - (self._shards_read_at or 0) >= SHARD_REFRESH_S
        if stale or all(s.closed for s in self._shards.values()):
            await self._refresh_shards(arn)
            self._shards_read_at = self.monotonic()
        read = 0
        for shard in self._ordered():
            if shard.closed:
                continue
            read += await self._read_shard(arn, shard)
        return read

    async def _arn(self) -> str:
        if self._stream_arn is None:
            table = (await self.ddb.describe_table(TableName=self.table))["Table"]
            arn = table.get("LatestStreamArn")
            if not arn:
                raise RuntimeError(f"the table {self.table} has no stream (run infra provision)")
            self._stream_arn = str(arn)
        return self._stream_arn

    async def _refresh_shards(self, arn: str) -> None:
        kwargs: dict[str, Any] = {"StreamArn": arn}
        while True:
            desc = (await self.streams.describe_stream(**kwargs))["StreamDescription"]
            for s in desc.get("Shards", []):
                if s["ShardId"] not in self._shards:
                    self._shards[s["ShardId"]] = _Shard(s["ShardId"], s.get("ParentShardId"))
            last = desc.get("LastEvaluatedShardId")
            if not last:
                return
            kwargs["ExclusiveStartShardId"] = last

    def _ordered(self) -> list[_Shard]:
        """Parents before children (a child's records follow its parent's)."""
        done: list[_Shard] = []
        seen: set[str] = set()

        def visit(shard: _Shard) -> None:
            if shard.shard_id in seen:
                return
            seen.add(shard.shard_id)
            if shard.parent in self._shards:
                visit(self._shards[shard.parent])
            done.append(shard)

        for shard in self._shards.values():
            visit(shard)
        return done

    async def _iterator(self, arn: str, shard: _Shard) -> str:
        if shard.iterator is not None:
            return shard.iterator
        after = await self.history.checkpoint(shard.shard_id)
        kwargs: dict[str, Any] = {"StreamArn": arn, "ShardId": shard.shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        shard.iterator = str((await self.streams.get_shard_iterator(**kwargs))["ShardIterator"])
        return shard.iterator

    async def _read_shard(self, arn: str, shard: _Shard) -> int:
        parent = self._shards.get(shard.parent or "")
        if parent is not None and not parent.closed:
            return 0  # the parent's records come first
        try:
            resp = await self.streams.get_records(
                ShardIterator=await self._iterator(arn, shard), Limit=RECORDS_PER_CALL
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _STALE_ITERATOR:
                raise
            log.warning("stream_iterator_reset", shard_id=shard.shard_id, error=str(exc)[:200])
            shard.iterator = None
            return 0
        records = resp.get("Records", [])
        if records:
            await self._handle(shard.shard_id, records)
        shard.iterator = resp.get("NextShardIterator")
        if shard.iterator is None:
            shard.closed = True  # a closed shard, read to its end
        return len(records)

    async def _handle(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        now = self.clock()
        batch = Meaning()
        for record in records:
            batch.extend(meaning(record, now=now))
        if not (batch.events or batch.history):
            return
        for op in batch.history:
            await self.history.apply(op)
        await self.publish(batch.events)
        last = records[-1]["dynamodb"]["SequenceNumber"]
        await self.history.save_checkpoint(shard_id, str(last))
