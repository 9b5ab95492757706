"""DLQ list / replay / purge on a real moto server (issue 6, proofs 1-4)."""

from __future__ import annotations

import asyncio
import json

import pytest

from producers.ops import dlq
from schemas.messages import SyncJob
from tests.factories import allocate_message, release_message, wait_until
from tests.integration.ops.conftest import Stack, cli_process, per_group, run_cli

pytestmark = pytest.mark.integration


async def _redrive_for_real(stack: Stack, message, *, group: str) -> None:
    """Send to the source queue and receive it until SQS itself dead-letters it."""
    source, dlq_name = stack.names.requests_queue, stack.names.requests_dlq
    await stack.sqs.send_message(
        QueueUrl=stack.url(source),
        MessageBody=message.model_dump_json(),
        MessageGroupId=group,
        MessageDeduplicationId=message.request_id,
        MessageAttributes={
            "type": {"DataType": "String", "StringValue": message.type},
            "schema_version": {"DataType": "String", "StringValue": "1"},
            "request_id": {"DataType": "String", "StringValue": message.request_id},
        },
    )

    async def moved() -> bool:
        # VisibilityTimeout=0: each receive counts, the message is visible again at once;
        # past maxReceiveCount the next receive moves it to the DLQ (the redrive policy).
        await stack.sqs.receive_message(
            QueueUrl=stack.url(source),
            MaxNumberOfMessages=1,
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
        )
        return (await stack.depth(dlq_name))[0] >= 1

    await wait_until(moved, timeout=10, what="SQS redrive to the DLQ")


async def test_poison_messages_listed_with_reasons_dry_run_changes_nothing_replay_keeps_order(
    stack: Stack,
) -> None:
    """Three groups dead-lettered by the broker plus one by SQS redrive: listed with reasons,
    a dry run changes nothing, replay re-delivers each group in order and empties the DLQ."""
    # GIVEN one message dead-lettered by SQS redrive (reason: its DEAD_LETTERED reply) ...
    redriven = allocate_message("track-d")
    await _redrive_for_real(stack, redriven, group="track-d")
    await stack.dead_lettered_reply(redriven, track_id="track-d")
    # ... and three groups the broker rejected, interleaved as they failed
    groups = {g: [] for g in ("track-a", "track-b", "track-c")}
    for i in range(3):
        for group, sent in groups.items():
            msg = allocate_message(group) if i != 1 else release_message(group, f"sbx-{i}")
            sent.append(msg)
            if group == "track-c":  # no reason attribute: the reply row tells
                await stack.dead_letter(msg, group=group)
                await stack.dead_lettered_reply(msg, track_id=group)
            else:
                await stack.dead_letter(msg, group=group, reason=f"poison {msg.request_id}")
    dlq_name, source = stack.names.requests_dlq, stack.names.requests_queue
    await stack.wait_depth(dlq_name, 10)

    # WHEN listing
    listed = await run_cli(["dlq", "list", "--queue", "requests", "--json"], stack.env)

    # THEN every message shows, with its reason, and nothing was consumed
    assert listed.exit_code == 0, listed.stderr
    rows = {r["request_id"]: r for r in listed.json()["messages"]}
    assert len(rows) == 10
    for group, sent in groups.items():
        ordered = [r["request_id"] for r in listed.json()["messages"] if r["group"] == group]
        assert ordered == [m.request_id for m in sent], "listing shows a group in DLQ order"
        for m in sent:
            row = rows[m.request_id]
            assert row["type"] == m.type
            if group == "track-c":
                assert row["reason"].startswith("DEAD_LETTERED")
                assert row["reason_source"] == "reply"
            else:
                assert row["reason"] == f"poison {m.request_id}"
                assert row["reason_source"] == "attribute"
    assert rows[redriven.request_id]["reason_source"] == "reply"
    # the redriven one kept the receive count it reached on the source queue (+1: the listing)
    assert rows[redriven.request_id]["receive_count"] == 5 + 1
    assert "receive" in listed.json()["note"].lower()
    await stack.wait_depth(dlq_name, 10)

    # a second listing reports each count one higher: honest about its own receive
    again = await run_cli(["dlq", "list", "--queue", "requests", "--json"], stack.env)
    again_rows = {r["request_id"]: r for r in again.json()["messages"]}
    assert all(again_rows[k]["receive_count"] == rows[k]["receive_count"] + 1 for k in rows)

    # WHEN a dry run
    dry = await run_cli(["dlq", "replay", "--queue", "requests", "--dry-run", "--json"], stack.env)
    # THEN it names all ten and changes nothing
    assert dry.exit_code == 0, dry.stderr
    assert dry.json()["dry_run"] is True
    assert {r["request_id"] for r in dry.json()["would_replay"]} == set(rows)
    await stack.wait_depth(dlq_name, 10)
    assert await stack.depth(source) == (0, 0)

    # WHEN replaying for real
    done = await run_cli(["dlq", "replay", "--queue", "requests", "--yes", "--json"], stack.env)

    # THEN the DLQ is empty and each group arrived in its original order, intact
    assert done.exit_code == 0, done.stderr
    (report,) = done.json()["queues"]
    assert report["replayed"] == 10
    assert report["failed"] == 0
    await stack.wait_depth(dlq_name, 0)
    arrived = await stack.drain(source)
    assert per_group(arrived) == {
        **{g: [m.request_id for m in sent] for g, sent in groups.items()},
        "track-d": [redriven.request_id],
    }
    originals = {m.request_id: m for sent in groups.values() for m in sent} | {
        redriven.request_id: redriven
    }
    for m in arrived:
        original = originals[json.loads(m["Body"])["request_id"]]
        assert m["Body"] == original.model_dump_json(), "body is replayed byte for byte"
        attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
        assert attrs == {
            "type": original.type,
            "schema_version": "1",
            "request_id": original.request_id,
        }, "routing attributes kept, the stale reject reason dropped"
        assert m["Attributes"]["MessageDeduplicationId"].startswith(
            f"{original.request_id}:replay:"
        )


async def test_replay_within_the_dedup_window_is_not_swallowed(stack: Stack) -> None:
    """A copy replayed seconds after the original send (same request id) still arrives."""
    source, dlq_name = stack.names.requests_queue, stack.names.requests_dlq
    msg = allocate_message("track-x")
    # GIVEN the original was sent with dedup id = request id moments ago ...
    await stack.sqs.send_message(
        QueueUrl=stack.url(source),
        MessageBody=msg.model_dump_json(),
        MessageGroupId="track-x",
        MessageDeduplicationId=msg.request_id,
    )
    # ... (the window is live here: a resend under the same id is dropped) ...
    await stack.sqs.send_message(
        QueueUrl=stack.url(source),
        MessageBody=msg.model_dump_json(),
        MessageGroupId="track-x",
        MessageDeduplicationId=msg.request_id,
    )
    assert await stack.depth(source) == (1, 0), "this endpoint must deduplicate for the test"
    # ... and a copy of it sits in the DLQ
    await stack.dead_letter(msg, group="track-x", reason="boom")

    # WHEN replayed
    report = await dlq.Replay(
        stack.sqs, pair=dlq.dlq_pairs(stack.names, "requests")[0], wait_s=0
    ).run()

    # THEN the source queue got a second copy under a fresh dedup id
    assert [lt.request_id for lt in report.replayed] == [msg.request_id]
    await stack.wait_depth(source, 2)
    await stack.wait_depth(dlq_name, 0)
    dedup_ids = [m["Attributes"]["MessageDeduplicationId"] for m in await stack.drain(source)]
    assert dedup_ids[0] == msg.request_id
    assert dedup_ids[1].startswith(f"{msg.request_id}:replay:")


async def _mixed_dlqs(stack: Stack) -> dict[str, list]:
    """g1: allocate, release, allocate, release; g2: allocate x2; jobs DLQ: one sync."""
    g1 = [
        allocate_message("g1"),
        release_message("g1", "sbx-1"),
        allocate_message("g1"),
        release_message("g1", "sbx-2"),
    ]
    g2 = [allocate_message("g2"), allocate_message("g2")]
    for a, b in zip(g1, [*g2, None, None], strict=True):
        await stack.dead_letter(a, group="g1", reason="x")
        if b is not None:
            await stack.dead_letter(b, group="g2", reason="y")
    job = SyncJob(request_id="sched_sync_1", requested_by="scheduler")
    await stack.dead_letter(job, group="sync", dlq=stack.names.jobs_dlq, reason="csp down")
    await stack.wait_depth(stack.names.requests_dlq, 6)
    await stack.wait_depth(stack.names.jobs_dlq, 1)
    return {"g1": g1, "g2": g2, "jobs": [job]}


async def test_list_filters_select_exactly_what_they_say(stack: Stack) -> None:
    sent = await _mixed_dlqs(stack)

    async def ids(*args: str) -> list[str]:
        result = await run_cli(["dlq", "list", "--json", *args], stack.env)
        assert result.exit_code == 0, result.stderr
        return [r["request_id"] for r in result.json()["messages"]]

    g1, g2, jobs = sent["g1"], sent["g2"], sent["jobs"]
    assert sorted(await ids()) == sorted(m.request_id for m in [*g1, *g2, *jobs])
    assert await ids("--type", "release") == [g1[1].request_id, g1[3].request_id]
    assert await ids("--group", "g2") == [m.request_id for m in g2]
    assert await ids("--queue", "jobs") == [jobs[0].request_id]
    assert await ids("--queue", "requests", "--group", "g1", "--limit", "2") == [
        g1[0].request_id,
        g1[1].request_id,
    ]
    assert await ids("--type", "sync", "--queue", "requests") == []
    await stack.wait_depth(stack.names.requests_dlq, 6)


async def test_replay_filters_move_exactly_the_selected_messages_in_order(stack: Stack) -> None:
    sent = await _mixed_dlqs(stack)
    g1, g2 = sent["g1"], sent["g2"]
    requests_dlq, source = stack.names.requests_dlq, stack.names.requests_queue

    # --group: only g2 moves
    r = await run_cli(["dlq", "replay", "--group", "g2", "--yes", "--json"], stack.env)
    assert r.exit_code == 0, r.stderr
    assert sum(q["replayed"] for q in r.json()["queues"]) == 2
    await stack.wait_depth(requests_dlq, 4)
    await stack.wait_depth(stack.names.jobs_dlq, 1)
    assert per_group(await stack.drain(source)) == {"g2": [m.request_id for m in g2]}

    # --type + --limit: the first release of g1 only
    r = await run_cli(
        ["dlq", "replay", "--type", "release", "--limit", "1", "--yes", "--json"], stack.env
    )
    assert r.exit_code == 0, r.stderr
    assert [i for q in r.json()["queues"] for i in q["replayed_request_ids"]] == [g1[1].request_id]
    await stack.wait_depth(requests_dlq, 3)
    assert per_group(await stack.drain(source)) == {"g1": [g1[1].request_id]}

    # --queue jobs: the sync job goes back to the jobs queue, keeping its group
    r = await run_cli(["dlq", "replay", "--queue", "jobs", "--yes", "--json"], stack.env)
    assert r.exit_code == 0, r.stderr
    await stack.wait_depth(stack.names.jobs_dlq, 0)
    assert per_group(await stack.drain(stack.names.jobs_queue)) == {"sync": ["sched_sync_1"]}

    # what is left is g1's remaining three, still in order
    left = await run_cli(["dlq", "list", "--json"], stack.env)
    assert [m["request_id"] for m in left.json()["messages"]] == [
        g1[0].request_id,
        g1[2].request_id,
        g1[3].request_id,
    ]


async def test_replay_and_purge_refuse_without_yes(stack: Stack) -> None:
    await _mixed_dlqs(stack)

    purge = await run_cli(["dlq", "purge", "--queue", "requests"], stack.env)
    replay = await run_cli(["dlq", "replay", "--queue", "requests"], stack.env)

    for result in (purge, replay):
        assert result.exit_code == 2
        assert "--yes" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    await stack.wait_depth(stack.names.requests_dlq, 6)
    assert await stack.depth(stack.names.requests_queue) == (0, 0)

    done = await run_cli(["dlq", "purge", "--queue", "requests", "--yes", "--json"], stack.env)
    assert done.exit_code == 0, done.stderr
    assert done.json()["purged"] == {stack.names.requests_dlq: 6}
    await stack.wait_depth(stack.names.requests_dlq, 0)
    await stack.wait_depth(stack.names.jobs_dlq, 1)


async def test_show_prints_body_attributes_and_reply_row(stack: Stack) -> None:
    msg = allocate_message("track-s")
    message_id = await stack.dead_letter(msg, group="track-s")
    await stack.dead_lettered_reply(msg, track_id="track-s")

    by_request = await run_cli(["dlq", "show", msg.request_id, "--json"], stack.env)
    by_message = await run_cli(["dlq", "show", message_id, "--json"], stack.env)
    missing = await run_cli(["dlq", "show", "req_nosuchthing"], stack.env)

    assert by_request.exit_code == 0, by_request.stderr
    shown = by_request.json()
    assert shown["message"]["body"] == json.loads(msg.model_dump_json())
    assert shown["message"]["message_attributes"]["request_id"] == msg.request_id
    assert shown["message"]["group"] == "track-s"
    assert shown["reply"]["error"]["code"] == "DEAD_LETTERED"
    assert by_message.json()["message"]["request_id"] == msg.request_id
    assert missing.exit_code == 1
    assert "req_nosuchthing" in missing.stderr
    await stack.wait_depth(stack.names.requests_dlq, 1)


async def test_more_than_ten_messages_are_listed_and_replayed(stack: Stack) -> None:
    """Several receives: 12 groups of one plus one group of 12 (in order, across batches)."""
    singles = [allocate_message(f"s{i}") for i in range(12)]
    for m in singles:
        await stack.dead_letter(m, group=m.track_id)
    long_group = [allocate_message("long") for _ in range(12)]
    for m in long_group:
        await stack.dead_letter(m, group="long")
    await stack.wait_depth(stack.names.requests_dlq, 24)

    listed = await run_cli(["dlq", "list", "--queue", "requests", "--json"], stack.env)
    shown = {r["request_id"] for r in listed.json()["messages"]}
    assert {m.request_id for m in singles} <= shown
    # a FIFO queue shows no more than the first batch of one group without deleting
    assert listed.json()["not_reached"]["requests"] == 24 - len(shown)

    report = await dlq.Replay(
        stack.sqs, pair=dlq.dlq_pairs(stack.names, "requests")[0], wait_s=0
    ).run()
    assert len(report.replayed) == 24
    await stack.wait_depth(stack.names.requests_dlq, 0)
    arrived = per_group(await stack.drain(stack.names.requests_queue))
    assert arrived["long"] == [m.request_id for m in long_group]
    assert sum(len(v) for v in arrived.values()) == 24


async def test_native_replay_says_clearly_when_the_endpoint_lacks_it(stack: Stack) -> None:
    result = await cli_process(["dlq", "replay", "--native", "--yes"], stack.env)

    assert result.exit_code == 1
    assert "does not support StartMessageMoveTask; run without --native" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_native_refuses_filters(stack: Stack) -> None:
    result = await run_cli(["dlq", "replay", "--native", "--group", "g", "--yes"], stack.env)
    assert result.exit_code == 2
    assert "--native" in result.stderr


async def test_replay_holds_nothing_when_done(stack: Stack) -> None:
    """Messages skipped by a filter are released at the end (the DLQ shows them visible)."""
    await _mixed_dlqs(stack)
    report = await dlq.Replay(
        stack.sqs,
        pair=dlq.dlq_pairs(stack.names, "requests")[0],
        selector=dlq.Selector(group="nope"),
        wait_s=0,
    ).run()
    assert report.replayed == []
    assert report.skipped >= 6
    await stack.wait_depth(stack.names.requests_dlq, 6)


async def test_replay_waits_for_messages_another_reader_holds(stack: Stack, caplog) -> None:
    """GIVEN dead letters of which another reader (a peek, a consumer's DLQ sweep) holds
    some, WHEN a replay has moved everything it can reach, THEN it waits for the held ones
    to be released and replays them too, rather than ending with them left behind."""
    sent = [allocate_message(f"track-h{i}") for i in range(5)]
    for msg in sent:
        await stack.dead_letter(msg, group=msg.track_id)
    dlq_name = stack.names.requests_dlq
    await stack.wait_depth(dlq_name, 5)
    grabbed = await stack.sqs.receive_message(
        QueueUrl=stack.url(dlq_name), MaxNumberOfMessages=2, VisibilityTimeout=60
    )
    handles = [m["ReceiptHandle"] for m in grabbed["Messages"]]
    assert len(handles) == 2
    caplog.set_level("INFO", logger="producers.ops.dlq")

    replaying = asyncio.create_task(
        dlq.Replay(stack.sqs, pair=dlq.dlq_pairs(stack.names, "requests")[0], wait_s=1).run()
    )
    await wait_until(
        lambda: "dlq_replay_waiting held_by_others=2" in caplog.text or replaying.done(),
        timeout=30,
        what="the replay to wait for the held messages",
    )
    assert not replaying.done(), "the replay ended with two messages still held by another"
    await dlq.release(stack.sqs, stack.url(dlq_name), handles)
    report = await asyncio.wait_for(replaying, timeout=60)

    assert sorted(lt.request_id for lt in report.replayed) == sorted(m.request_id for m in sent)
    assert (report.left_visible, report.left_in_flight) == (0, 0)
