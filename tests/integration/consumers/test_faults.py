"""Fault tests with real consumer processes: SIGKILL between claim and ack; poison messages."""

from __future__ import annotations

import json

import pytest

from infra.provision import provision
from schemas.errors import ErrorCode
from schemas.messages import RetryJob, message_attributes
from schemas.pool import SandboxStatus
from schemas.replies import ReplyStatus
from tests.factories import allocate_message, wait_until
from tests.integration.consumers.processes import start_consumer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _send(sqs, url: str, body: str, *, group: str, dedup: str, attrs: dict | None = None):
    await sqs.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=dedup,
        MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in (attrs or {}).items()
        },
    )


async def _send_request(sqs, url: str, msg) -> None:
    """A valid request, as the gateway enqueues it: track group, request dedup, attributes."""
    await _send(
        sqs,
        url,
        msg.model_dump_json(),
        group=msg.track_id,
        dedup=msg.request_id,
        attrs=message_attributes(msg, type_=msg.type),
    )


async def _queue_empty(sqs, url: str) -> bool:
    attrs = (
        await sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return (
        attrs["ApproximateNumberOfMessages"]
        == "0"
        == attrs["ApproximateNumberOfMessagesNotVisible"]
    )


async def test_consumer_killed_between_claim_and_ack_redelivers_the_same_answer(
    alloc_env, sqs, tmp_path
) -> None:
    """GIVEN a claim written but not acknowledged, WHEN the consumer is SIGKILLed, THEN the
    redelivered message is answered with the same sandbox and nothing is claimed twice."""
    await alloc_env.seed(5)
    settings = alloc_env.settings
    url = (await sqs.get_queue_url(QueueName=settings.names.requests_queue))["QueueUrl"]
    holder = start_consumer(
        settings,
        tmp_path / "a.log",
        BROKER_VISIBILITY_TIMEOUT_S="2",
        hold_after_handler_s=600,
    )
    msg = allocate_message("track-kill")
    try:
        await _send_request(sqs, url, msg)
        await wait_until(
            lambda: alloc_env.replies.get(msg.request_id), timeout=60, what="the claim's reply"
        )
        first = await alloc_env.replies.get(msg.request_id)
        assert first.status is ReplyStatus.SUCCEEDED
    finally:
        holder.kill()

    second = start_consumer(settings, tmp_path / "b.log", BROKER_VISIBILITY_TIMEOUT_S="2")
    try:
        await wait_until(lambda: _queue_empty(sqs, url), timeout=60, what="redelivery and ack")
        events = second.events()
    finally:
        assert second.terminate() == 0

    assert any(e.get("event") == "reply_already_written" for e in events), "not redelivered"
    again = await alloc_env.replies.get(msg.request_id)
    assert again == first  # the very same row: same sandbox, same times
    assert await alloc_env.pool.count(SandboxStatus.ALLOCATED) == 1
    assert (await alloc_env.pool.get_pointer("track-kill")).sandbox_id == first.result["sandbox_id"]


async def test_poison_messages_go_to_the_dlq_with_a_reply_and_do_not_stall_the_group(
    alloc_env, sqs, tmp_path
) -> None:
    await alloc_env.seed(3)
    settings = alloc_env.settings
    names = settings.names
    url = (await sqs.get_queue_url(QueueName=names.requests_queue))["QueueUrl"]
    dlq = (await sqs.get_queue_url(QueueName=names.requests_dlq))["QueueUrl"]
    group = "track-poison"
    unknown = {
        "schema_version": 1,
        "type": "teleport",
        "request_id": "req_unknown1",
        "track_id": group,
    }
    missing = {"schema_version": 1, "type": "allocate", "request_id": "req_missing1"}
    # a type the schemas know but not on this queue (a job): refused like an unknown one
    not_routed = {
        **RetryJob(request_id="req_extend1", sandbox_id="sbx-1").model_dump(mode="json"),
        "track_id": group,
    }
    good = allocate_message(group)
    await _send(sqs, url, "{not json", group=group, dedup="d1")
    await _send(sqs, url, json.dumps(unknown), group=group, dedup="d2")
    await _send(sqs, url, json.dumps(missing), group=group, dedup="d3")
    await _send(sqs, url, json.dumps(not_routed), group=group, dedup="d3b")
    await _send(sqs, url, good.model_dump_json(), group=group, dedup="d4")

    consumer = start_consumer(settings, tmp_path / "c.log")
    try:
        await wait_until(lambda: alloc_env.replies.get(good.request_id), timeout=60, what="reply")
        await wait_until(lambda: _queue_empty(sqs, url), timeout=30, what="source drained")
    finally:
        assert consumer.terminate() == 0

    assert (await alloc_env.replies.get(good.request_id)).status is ReplyStatus.SUCCEEDED
    bad = await alloc_env.replies.get("req_unknown1")
    assert bad.status is ReplyStatus.FAILED
    assert bad.error.code is ErrorCode.INVALID_REQUEST
    assert bad.track_id == group
    assert (await alloc_env.replies.get("req_missing1")).error.code is ErrorCode.INVALID_REQUEST
    refused = await alloc_env.replies.get("req_extend1")
    assert refused.error.code is ErrorCode.INVALID_REQUEST
    assert "retry" in refused.error.message
    dead = await sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
    )
    bodies = sorted(m["Body"] for m in dead.get("Messages", []))
    assert len(bodies) == 4
    assert "{not json" in bodies
    assert all(m["Attributes"]["MessageGroupId"] == group for m in dead["Messages"])


async def test_consumer_killed_holding_requests_on_their_last_receive_leaves_none_unanswered(
    alloc_env, sqs, ddb, tmp_path
) -> None:
    """GIVEN maxReceiveCount 1 and a consumer that received a batch but handled one of it,
    WHEN it is SIGKILLed, THEN the batch is dead-lettered by SQS without any handler having
    run, and the next consumer's DLQ sweep answers each such request DEAD_LETTERED: every
    request ends in exactly one terminal reply, and nothing is claimed twice."""
    settings = alloc_env.settings.model_copy(update={"max_receive_count": 1})
    await provision(settings, sqs=sqs, ddb=ddb)  # the redrive policy now says 1
    await alloc_env.seed(20)
    names = settings.names
    url = (await sqs.get_queue_url(QueueName=names.requests_queue))["QueueUrl"]
    dlq = (await sqs.get_queue_url(QueueName=names.requests_dlq))["QueueUrl"]
    messages = [allocate_message(f"track-loop-{n:02d}") for n in range(12)]
    for msg in messages:
        await _send_request(sqs, url, msg)
    common = {"BROKER_MAX_RECEIVE_COUNT": "1", "BROKER_VISIBILITY_TIMEOUT_S": "2"}
    victim = start_consumer(
        settings,
        tmp_path / "victim.log",
        BROKER_MAX_WORKERS="1",
        hold_after_handler_s=600,
        BROKER_DLQ_SWEEP_INTERVAL_S="0",
        **common,
    )
    try:

        async def victim_holds_a_batch() -> bool:
            answered = [await alloc_env.replies.get(m.request_id) for m in messages]
            return sum(r is not None for r in answered) == 1 and await _in_flight(sqs, url) >= 3

        await wait_until(victim_holds_a_batch, timeout=60, what="the victim to hold a batch")
        held = await _in_flight(sqs, url)
    finally:
        victim.kill()

    survivor = start_consumer(
        settings, tmp_path / "survivor.log", BROKER_DLQ_SWEEP_INTERVAL_S="0.5", **common
    )
    try:

        async def all_answered() -> bool:
            replies = [await alloc_env.replies.get(m.request_id) for m in messages]
            return all(r is not None and r.terminal for r in replies)

        await wait_until(all_answered, timeout=90, what="a terminal reply for every request")
    finally:
        assert survivor.terminate() == 0

    replies = [await alloc_env.replies.get(m.request_id) for m in messages]
    dead = [r for r in replies if r.error and r.error.code is ErrorCode.DEAD_LETTERED]
    won = [r for r in replies if r.status is ReplyStatus.SUCCEEDED]
    assert len(dead) + len(won) == len(messages)
    # the victim's batch: one handled (its reply stands), the rest never reached a handler
    assert len(dead) == held - 1
    sandboxes = [r.result["sandbox_id"] for r in won]
    assert len(set(sandboxes)) == len(sandboxes)
    assert await alloc_env.pool.count(SandboxStatus.ALLOCATED) == len(won)
    for reply in dead:
        assert await alloc_env.pool.get_pointer(reply.track_id) is None
    # every dead letter is still there for an operator (the handled one included)
    assert await _visible(sqs, dlq) == held


async def _in_flight(sqs, url: str) -> int:
    attrs = await sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


async def _visible(sqs, url: str) -> int:
    attrs = await sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])
