"""The DLQ sweep: dead-lettered requests that no handler finished get a DEAD_LETTERED reply.

SQS counts a receive when it hands a message out; a consumer killed while holding a message
on its last receive leaves it to be dead-lettered with no reply. These tests put messages in
the DLQ the way SQS does (redrive after maxReceiveCount receives, or straight in) and check
that the sweep answers exactly the unanswered ones and leaves every message in the DLQ.
"""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from consumers.metrics import BrokerMetrics
from consumers.services.dead_letters import DeadLetterSweeper
from consumers.services.replies import ReplyFactory
from schemas.errors import ErrorCode
from schemas.replies import ReplyRecord, ReplyStatus
from tests.factories import allocate_message, wait_until
from tests.integration.consumers.processes import start_consumer

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _url(sqs, name: str) -> str:
    return (await sqs.get_queue_url(QueueName=name))["QueueUrl"]


async def _to_dlq(sqs, url: str, body: str, *, group: str, dedup: str) -> None:
    await sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup
    )


async def _depth(sqs, url: str) -> tuple[int, int]:
    attrs = (
        await sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def _sweeper(alloc_env, sqs, clock: Clock, registry: CollectorRegistry) -> DeadLetterSweeper:
    names = alloc_env.settings.names
    return DeadLetterSweeper(
        sqs,
        replies=alloc_env.replies,
        factory=ReplyFactory(ttl_s=3600),
        metrics=BrokerMetrics(registry),
        dlqs=[names.requests_dlq, names.jobs_dlq],
        attempts=5,
        full_every_s=300,
        clock=clock,
    )


async def test_sweep_answers_unanswered_dead_letters_and_leaves_them_in_the_dlq(
    alloc_env, sqs
) -> None:
    """GIVEN dead letters with no reply, a pending reply, a terminal reply and no request id,
    WHEN the sweep runs, THEN only the first two become DEAD_LETTERED, the terminal one
    keeps its outcome, and all four are still in the DLQ, visible, for an operator."""
    names = alloc_env.settings.names
    dlq = await _url(sqs, names.requests_dlq)
    orphan = allocate_message("track-orphan")
    pending = allocate_message("track-pending")
    done = allocate_message("track-done")
    await alloc_env.replies.put(
        ReplyRecord(request_id=pending.request_id, action="allocate", status=ReplyStatus.PENDING)
    )
    finished = ReplyFactory(ttl_s=3600).succeeded(
        request_id=done.request_id,
        action="allocate",
        track_id="track-done",
        result={"sandbox_id": "sbx-1"},
        attempts=5,
        tenant=done.tenant,
    )
    await alloc_env.replies.put(finished)
    await _to_dlq(sqs, dlq, orphan.model_dump_json(), group="track-orphan", dedup="1")
    await _to_dlq(sqs, dlq, pending.model_dump_json(), group="track-pending", dedup="2")
    await _to_dlq(sqs, dlq, done.model_dump_json(), group="track-done", dedup="3")
    await _to_dlq(sqs, dlq, "{not json", group="track-x", dedup="4")
    registry = CollectorRegistry()
    sweeper = _sweeper(alloc_env, sqs, Clock(), registry)

    reports = await sweeper.sweep_once()

    [report] = [r for r in reports if r.queue == names.requests_dlq]
    assert (report.read, report.answered, report.already_terminal, report.unanswerable) == (
        4,
        2,
        1,
        1,
    )
    for msg in (orphan, pending):
        reply = await alloc_env.replies.get(msg.request_id)
        assert reply.status is ReplyStatus.FAILED
        assert reply.error.code is ErrorCode.DEAD_LETTERED
        assert reply.track_id == msg.track_id
        assert reply.action == "allocate"
        assert reply.attempts == 5
    assert await alloc_env.replies.get(done.request_id) == finished
    assert await _depth(sqs, dlq) == (4, 0)  # released, not consumed
    assert (
        registry.get_sample_value(
            "broker_dead_letters_answered_total", {"queue": names.requests_dlq}
        )
        == 2
    )


async def test_sweep_runs_again_only_when_the_dlq_grows_or_a_full_sweep_is_due(
    alloc_env, sqs
) -> None:
    names = alloc_env.settings.names
    dlq = await _url(sqs, names.requests_dlq)
    clock = Clock()
    sweeper = _sweeper(alloc_env, sqs, clock, CollectorRegistry())
    first = allocate_message("track-a")
    await _to_dlq(sqs, dlq, first.model_dump_json(), group="track-a", dedup="1")
    assert [r.answered for r in await sweeper.sweep_once()] == [1]

    assert await sweeper.sweep_once() == []  # nothing new: no receive at all

    second = allocate_message("track-b")
    await _to_dlq(sqs, dlq, second.model_dump_json(), group="track-b", dedup="2")
    [grew] = await sweeper.sweep_once()
    assert (grew.read, grew.answered) == (2, 1)  # the first one is remembered, not rewritten

    # A request that reached the DLQ while another left it: same depth, found by the full
    # sweep once it is due.
    third = allocate_message("track-c")
    await _to_dlq(sqs, dlq, third.model_dump_json(), group="track-c", dedup="3")
    assert (await _depth(sqs, dlq))[0] == 3
    sweeper._queues[names.requests_dlq].last_visible = 3  # as if one had been replayed
    assert await sweeper.sweep_once() == []
    clock.now += 301
    [full] = await sweeper.sweep_once()
    assert full.answered == 1
    reply = await alloc_env.replies.get(third.request_id)
    assert reply.error.code is ErrorCode.DEAD_LETTERED


async def test_a_replayed_request_may_still_overwrite_dead_lettered_with_its_outcome(
    alloc_env, sqs
) -> None:
    """The sweep's DEAD_LETTERED is the one row a real outcome may replace (DESIGN)."""
    await alloc_env.seed(1)
    names = alloc_env.settings.names
    dlq = await _url(sqs, names.requests_dlq)
    msg = allocate_message("track-replayed")
    await _to_dlq(sqs, dlq, msg.model_dump_json(), group="track-replayed", dedup="1")
    await _sweeper(alloc_env, sqs, Clock(), CollectorRegistry()).sweep_once()
    assert (await alloc_env.replies.get(msg.request_id)).error.code is ErrorCode.DEAD_LETTERED

    reply = await alloc_env.service().allocate(msg, attempts=1)

    assert reply.status is ReplyStatus.SUCCEEDED
    assert await alloc_env.replies.get(msg.request_id) == reply


@pytest.mark.slow
async def test_a_request_dead_lettered_before_any_handler_ran_is_answered(
    alloc_env, sqs, tmp_path
) -> None:
    """GIVEN a request received maxReceiveCount times by consumers that died before their
    handler ran (no reply written), WHEN a consumer next polls the queue, THEN SQS moves it
    to the DLQ and the consumer's sweep answers it DEAD_LETTERED; it stays in the DLQ."""
    await alloc_env.seed(1)
    names = alloc_env.settings.names
    url = await _url(sqs, names.requests_queue)
    dlq = await _url(sqs, names.requests_dlq)
    msg = allocate_message("track-crashloop")
    await sqs.send_message(
        QueueUrl=url,
        MessageBody=msg.model_dump_json(),
        MessageGroupId=msg.track_id,
        MessageDeduplicationId=msg.request_id,
    )
    # Five consumers took it and died at once: visibility 0 stands in for their lapse.
    for _ in range(alloc_env.settings.max_receive_count):
        got = await sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0, WaitTimeSeconds=1
        )
        assert len(got.get("Messages", [])) == 1
    assert await alloc_env.replies.get(msg.request_id) is None

    consumer = start_consumer(
        alloc_env.settings, tmp_path / "c.log", BROKER_DLQ_SWEEP_INTERVAL_S="0.5"
    )
    try:
        await wait_until(
            lambda: alloc_env.replies.get(msg.request_id),
            timeout=60,
            what="the DEAD_LETTERED reply",
        )
    finally:
        assert consumer.terminate() == 0
    reply = await alloc_env.replies.get(msg.request_id)
    assert reply.status is ReplyStatus.FAILED
    assert reply.error.code is ErrorCode.DEAD_LETTERED
    assert await alloc_env.pool.get_pointer(msg.track_id) is None  # no handler claimed
    assert await _depth(sqs, dlq) == (1, 0)
    swept = [e for e in consumer.events() if e.get("event") == "request_dead_lettered"]
    assert [(e["request_id"], e["source"]) for e in swept] == [(msg.request_id, "dlq_sweep")]
    peeked = await sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)
    assert json.loads(peeked["Messages"][0]["Body"])["request_id"] == msg.request_id


async def test_one_poisonous_dead_letter_does_not_abort_the_sweep(alloc_env, sqs) -> None:
    """GIVEN a dead letter nested 16,000 deep (RecursionError in json.loads) ahead of two
    unanswered ones in its group, and one whose type is an invented string, WHEN the sweep
    runs, THEN every later dead letter still gets DEAD_LETTERED (the poisonous one too,
    from its message attributes), and metric labels stay within the known message types."""
    names = alloc_env.settings.names
    dlq = await _url(sqs, names.requests_dlq)
    poison_id = allocate_message("track-poison").request_id
    poison = '{"request_id": "' + poison_id + '", "x": ' + "[" * 16_000 + "]" * 16_000 + "}"
    await sqs.send_message(
        QueueUrl=dlq,
        MessageBody=poison,
        MessageGroupId="track-poison",
        MessageDeduplicationId="p",
        MessageAttributes={"request_id": {"DataType": "String", "StringValue": poison_id}},
    )
    later = [allocate_message("track-poison"), allocate_message("track-poison")]
    for n, msg in enumerate(later):
        await _to_dlq(sqs, dlq, msg.model_dump_json(), group="track-poison", dedup=f"l{n}")
    invented = allocate_message("track-odd")
    odd = {**json.loads(invented.model_dump_json()), "type": ["zq" * 16]}  # not even a str
    await _to_dlq(sqs, dlq, json.dumps(odd), group="track-odd", dedup="o")
    registry = CollectorRegistry()

    reports = await _sweeper(alloc_env, sqs, Clock(), registry).sweep_once()

    [report] = [r for r in reports if r.queue == names.requests_dlq]
    assert (report.read, report.answered) == (4, 4)
    for request_id in (poison_id, *(m.request_id for m in later), invented.request_id):
        reply = await alloc_env.replies.get(request_id)
        assert reply is not None and reply.error.code is ErrorCode.DEAD_LETTERED, request_id
    actions = {
        sample.labels["action"]
        for family in registry.collect()
        if family.name == "broker_replies"
        for sample in family.samples
    }
    assert actions == {"allocate", "unknown"}
    assert await _depth(sqs, dlq) == (4, 0)
