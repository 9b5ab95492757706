"""The stream Lambda's handling on a real moto server: the same history and event ids as
the local reader, delivered to an EventBridge bus (a rule forwards them to a queue here)."""

from __future__ import annotations

import json
import uuid

import pytest

from consumers.stores.history import HistoryStore
from infra.events_lambda.handler import DeliveryError, handle
from schemas.events import EVENT_SOURCE
from tests.factories import allocate_message, release_message
from tests.integration.events.test_history_events import Collected, read_until, reader

pytestmark = pytest.mark.integration


async def _records(alloc_env, streams) -> list[dict]:
    arn = (await alloc_env.pool._ddb.describe_table(TableName=alloc_env.pool.table))["Table"][
        "LatestStreamArn"
    ]
    shard = (await streams.describe_stream(StreamArn=arn))["StreamDescription"]["Shards"][0]
    iterator = (
        await streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )
    )["ShardIterator"]
    return (await streams.get_records(ShardIterator=iterator))["Records"]


async def test_a_batch_becomes_history_and_bus_events_with_the_reader_ids(
    alloc_env, streams, eventbridge, sqs
) -> None:
    await alloc_env.seed(1)
    got = await alloc_env.service().allocate(allocate_message("trk-l"))
    await alloc_env.service().release(release_message("trk-l", got.result["sandbox_id"]))

    bus = f"bus-{uuid.uuid4().hex[:8]}"
    await eventbridge.create_event_bus(Name=bus)
    queue = (await sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}"))["QueueUrl"]
    queue_arn = (await sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"]))[
        "Attributes"
    ]["QueueArn"]
    await eventbridge.put_rule(
        Name="all", EventBusName=bus, EventPattern=json.dumps({"source": [EVENT_SOURCE]})
    )
    await eventbridge.put_targets(
        Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}]
    )

    history = HistoryStore(alloc_env.pool._ddb, table=alloc_env.pool.table)
    done = await handle(
        await _records(alloc_env, streams), history=history, events=eventbridge, bus=bus
    )
    assert [e.type.value for e in done.events] == [
        "sandbox.returned",
        "lease.allocated",
        "lease.released",
    ]
    delivered = []
    while len(delivered) < 3:
        resp = await sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        delivered += [json.loads(m["Body"]) for m in resp.get("Messages", [])]
    assert {d["source"] for d in delivered} == {EVENT_SOURCE}
    assert [d["detail-type"] for d in delivered] == [e.type.value for e in done.events]
    assert [d["detail"]["id"] for d in delivered] == [e.id for e in done.events]

    # the local reader derives the very same ids (and finds the history already written)
    local = Collected()
    await read_until(reader(alloc_env, streams, local), local, done.events[-1].type)
    assert [e.id for e in local.events] == [e.id for e in done.events]
    (lease,), _ = await history.page(got.result["sandbox_id"], limit=10)
    assert (lease.track_id, lease.end) == ("trk-l", "released")


async def test_a_refused_entry_fails_the_batch(alloc_env, streams) -> None:
    await alloc_env.seed(1)

    class Refusing:
        async def put_events(self, Entries):
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}

    history = HistoryStore(alloc_env.pool._ddb, table=alloc_env.pool.table)
    with pytest.raises(DeliveryError, match="InternalFailure"):
        await handle(
            await _records(alloc_env, streams), history=history, events=Refusing(), bus="b"
        )
