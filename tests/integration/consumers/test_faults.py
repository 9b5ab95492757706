"""Fault tests with real consumer processes: SIGKILL between claim and ack; poison messages."""

from __future__ import annotations

import json

import pytest

from schemas.errors import ErrorCode
from schemas.messages import message_attributes
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
        BROKER_TEST_HOLD_AFTER_HANDLER_S="600",
    )
    msg = allocate_message("track-kill")
    try:
        await _send(
            sqs,
            url,
            msg.model_dump_json(),
            group=msg.track_id,
            dedup=msg.request_id,
            attrs=message_attributes(msg, type_=msg.type),
        )
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
    good = allocate_message(group)
    await _send(sqs, url, "{not json", group=group, dedup="d1")
    await _send(sqs, url, json.dumps(unknown), group=group, dedup="d2")
    await _send(sqs, url, json.dumps(missing), group=group, dedup="d3")
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
    dead = await sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
    )
    bodies = sorted(m["Body"] for m in dead.get("Messages", []))
    assert len(bodies) == 3
    assert "{not json" in bodies
    assert all(m["Attributes"]["MessageGroupId"] == group for m in dead["Messages"])
