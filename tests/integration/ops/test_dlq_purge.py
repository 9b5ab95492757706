"""``dlq purge`` (issue 13, security review): one queue at a time, counts shown and asked
at a terminal (``--yes`` for scripts), ``--export FILE`` first, and every purged request
without an outcome answered DEAD_LETTERED (reason purged) so no caller polls forever."""

from __future__ import annotations

import asyncio
import json

import pytest

from consumers.stores.replies import ReplyStore
from schemas.errors import ErrorCode
from schemas.messages import SyncJob
from schemas.replies import ReplyRecord, ReplyStatus
from tests.factories import allocate_message, release_message
from tests.integration.ops.conftest import Stack, run_cli
from tests.subprocesses import at_a_terminal

pytestmark = pytest.mark.integration


async def test_purge_exports_answers_and_deletes_every_message(stack: Stack, tmp_path) -> None:
    """GIVEN 12 dead letters of one group (a FIFO DLQ shows only the first 10 while they
    are held), one whose request already succeeded and one pending, and a job in the other
    DLQ, WHEN purging the requests DLQ with --export, THEN all 12 are in the file in order,
    every request without an outcome is DEAD_LETTERED (purged), the finished one keeps its
    outcome, the DLQ is empty and the jobs DLQ untouched."""
    group = [
        allocate_message("g1", tenant="acme") if i % 3 else release_message("g1", f"sbx-{i}")
        for i in range(12)
    ]
    for message in group:
        await stack.dead_letter(message, group="g1", reason="poison")
    job = SyncJob(request_id="sched_sync_9", requested_by="scheduler")
    await stack.dead_letter(job, group="sync", dlq=stack.names.jobs_dlq)
    replies = ReplyStore(stack.ddb, table=stack.names.replies_table)
    done = ReplyRecord(
        request_id=group[1].request_id,
        action="allocate",
        status=ReplyStatus.SUCCEEDED,
        result={"sandbox_id": "sbx-x"},
        track_id="g1",
        completed_at=1.0,
    )
    await replies.put(done)
    await replies.put(
        ReplyRecord(request_id=group[2].request_id, action="allocate", status=ReplyStatus.PENDING)
    )
    await stack.wait_depth(stack.names.requests_dlq, 12)
    export = tmp_path / "dead.jsonl"

    result = await run_cli(
        ["dlq", "purge", "--queue", "requests", "--export", str(export), "--yes", "--json"],
        stack.env,
    )

    assert result.exit_code == 0, result.stderr
    body = result.json()
    assert body["purged"] == {stack.names.requests_dlq: 12}
    [report] = body["queues"]
    assert (report["answered"], report["already_terminal"], report["exported"]) == (11, 1, 12)
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert [line["request_id"] for line in lines] == [m.request_id for m in group]
    assert json.loads(lines[0]["body"]) == json.loads(group[0].model_dump_json())
    assert lines[0]["message_attributes"]["x-reject-reason"]["StringValue"] == "poison"
    for message in group:
        reply = await replies.get(message.request_id)
        if message.request_id == done.request_id:
            assert reply == done
            continue
        assert reply.status is ReplyStatus.FAILED
        assert reply.error.code is ErrorCode.DEAD_LETTERED
        assert "purged" in reply.error.message
        assert (reply.action, reply.track_id) == (message.type, "g1")
    assert (await replies.get(group[4].request_id)).tenant == "acme"
    await stack.wait_depth(stack.names.requests_dlq, 0)
    assert await stack.depth(stack.names.jobs_dlq) == (1, 0)


async def test_purgeat_a_terminal_shows_the_counts_and_asks(stack: Stack, tmp_path) -> None:
    messages = [allocate_message("g2") for _ in range(3)]
    for message in messages:
        await stack.dead_letter(message, group="g2")
    await stack.wait_depth(stack.names.requests_dlq, 3)
    export = tmp_path / "never.jsonl"
    args = ["dlq", "purge", "--queue", "requests", "--export", str(export)]

    code, text = await asyncio.to_thread(at_a_terminal, args, stack.env, b"n\n")

    assert code == 2, text
    assert f"{stack.names.requests_dlq}: about 3 message(s)" in text
    assert "DEAD_LETTERED (reason purged)" in text and str(export) in text
    assert "error: not confirmed: nothing to purge" in text
    assert not export.exists()
    await stack.wait_depth(stack.names.requests_dlq, 3)
    assert (
        await ReplyStore(stack.ddb, table=stack.names.replies_table).get(messages[0].request_id)
        is None
    )

    code, text = await asyncio.to_thread(at_a_terminal, args, stack.env, b"y\n")

    assert code == 0, text
    assert "purged 3 message(s)" in text
    assert len(export.read_text().splitlines()) == 3
    await stack.wait_depth(stack.names.requests_dlq, 0)
