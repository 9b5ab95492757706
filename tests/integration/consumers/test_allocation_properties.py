"""Property test: random allocate / release / redeliver sequences keep the invariants.

- no sandbox is owned by two tracks; a track owns at most one sandbox;
- every request ends in a terminal reply, and a redelivered request gets the same reply;
- the pool's items and the track pointers agree.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from consumers.metrics import BrokerMetrics
from consumers.stores.pool import PoolStore
from consumers.stores.replies import ReplyStore
from infra.provision import table_specs
from schemas.items import from_item
from schemas.messages import AllocateMessage, ReleaseMessage
from schemas.pool import SandboxStatus
from schemas.replies import ReplyStatus
from schemas.settings import CommonSettings
from tests.factories import allocate_message, release_message, sandbox
from tests.integration.consumers.conftest import AllocationEnv

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRACKS = 4
POOL = 3

op = st.one_of(
    st.tuples(st.just("allocate"), st.integers(0, TRACKS - 1), st.integers(0, 1)),
    st.tuples(st.just("release"), st.integers(0, TRACKS - 1), st.booleans()),
    st.tuples(st.just("redeliver"), st.integers(0, 50), st.integers(0, 1)),
)
steps = st.lists(st.lists(op, min_size=1, max_size=4), min_size=1, max_size=8)


async def _tables(ddb: Any, moto_url: str) -> CommonSettings:
    cfg = CommonSettings(name_prefix=f"p{uuid.uuid4().hex[:8]}-", aws_endpoint_url=moto_url)
    for spec in table_specs(cfg):
        kwargs: dict[str, Any] = {
            "TableName": spec.name,
            "KeySchema": spec.key_schema,
            "AttributeDefinitions": spec.attribute_definitions,
            "BillingMode": "PAY_PER_REQUEST",
        }
        if spec.global_secondary_indexes:
            kwargs["GlobalSecondaryIndexes"] = spec.global_secondary_indexes
        await ddb.create_table(**kwargs)
    return cfg


async def _scan(ddb: Any, table: str) -> list[dict[str, Any]]:
    """Test-only Scan to check invariants over the whole table (the product never scans)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        resp = await ddb.scan(**kwargs)
        items += [from_item(i) for i in resp["Items"]]
        if "LastEvaluatedKey" not in resp:
            return items
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
async def test_random_sequences_keep_the_invariants(plan, ddb, moto_url) -> None:
    cfg = await _tables(ddb, moto_url)
    try:
        replies = ReplyStore(ddb, table=cfg.names.replies_table)
        pool = PoolStore(ddb, table=cfg.names.pool_table, replies=replies)
        env = AllocationEnv(cfg, pool, replies, BrokerMetrics(CollectorRegistry()))
        await env.seed(POOL)
        consumers = [env.service(page_size=2), env.service(page_size=2)]
        sent: list[AllocateMessage | ReleaseMessage] = []
        first_reply: dict[str, Any] = {}
        holder: dict[int, str] = {}  # model: track -> sandbox it last got and did not release

        async def run(message, consumer):
            svc = consumers[consumer]
            if isinstance(message, AllocateMessage):
                return message, await svc.allocate(message)
            return message, await svc.release(message)

        for batch in plan:
            calls = []
            for kind, a, b in batch:
                if kind == "allocate":
                    m = allocate_message(f"track-{a}")
                    sent.append(m)
                    calls.append(run(m, b))
                elif kind == "release":
                    sid = holder.get(a, "sbx-00000") if b else "sbx-00001"
                    m = release_message(f"track-{a}", sid)
                    sent.append(m)
                    calls.append(run(m, 0))
                elif sent:
                    calls.append(run(sent[a % len(sent)], b))
            for message, reply in await asyncio.gather(*calls):
                # every request terminal; a redelivery answers exactly what was answered
                assert reply.status is not ReplyStatus.PENDING
                key = message.request_id
                seen = reply.model_dump(exclude={"attempts"})
                assert first_reply.setdefault(key, seen) == seen
                track = int(message.track_id.split("-")[1])
                if reply.status is ReplyStatus.SUCCEEDED and message.type == "allocate":
                    holder[track] = reply.result["sandbox_id"]
                elif reply.status is ReplyStatus.SUCCEEDED and not reply.result["idempotent"]:
                    holder.pop(track, None)

            items = await _scan(ddb, cfg.names.pool_table)
            allocated = [i for i in items if i.get("status") == SandboxStatus.ALLOCATED]
            pointers = {
                i["track_id"]: i["sandbox_id"] for i in items if i["PK"].startswith("TRACK#")
            }
            owners = [i["allocated_to_track"] for i in allocated]
            assert len(owners) == len(set(owners)), "a track owns two sandboxes"
            assert pointers == {i["allocated_to_track"]: i["sandbox_id"] for i in allocated}
            assert (
                len(allocated)
                + sum(1 for i in items if i.get("status") == SandboxStatus.AVAILABLE)
                + sum(1 for i in items if i.get("status") == SandboxStatus.PENDING_DELETION)
                == POOL
            )
        for m in sent:
            stored = await replies.get(m.request_id)
            assert stored is not None and stored.terminal
    finally:
        for table in (cfg.names.pool_table, cfg.names.replies_table, cfg.names.tenants_table):
            await ddb.delete_table(TableName=table)


def test_sandbox_factory_ids_match_the_release_targets() -> None:
    assert sandbox(0).sandbox_id == "sbx-00000" and sandbox(1).sandbox_id == "sbx-00001"
