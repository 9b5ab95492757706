"""Scheduler replicas enqueue each job once per interval (dedup by time bucket)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from producers.scheduler import Schedule, Scheduler
from schemas.messages import JOB_MESSAGE, MessageType
from tests.factories import wait_until

pytestmark = pytest.mark.integration


async def _drain(sqs, url: str) -> list[dict]:
    got: list[dict] = []
    while True:
        resp = await sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        )
        msgs = resp.get("Messages", [])
        if not msgs:
            return got
        got += msgs
        await sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)
            ],
        )


async def test_two_schedulers_enqueue_each_job_once_per_interval(provisioned, sqs) -> None:
    url = (await sqs.get_queue_url(QueueName=provisioned.names.jobs_queue))["QueueUrl"]
    plan = [Schedule(MessageType.SYNC, 1), Schedule(MessageType.CLEANUP, 1)]
    replicas = [Scheduler(sqs, queue_url=url, plan=plan) for _ in range(2)]
    tasks = [asyncio.create_task(r.run()) for r in replicas]
    try:
        await wait_until(
            lambda: all(r.sent >= 6 for r in replicas), timeout=20, what="3 fires per job each"
        )
    finally:
        for r in replicas:
            r.stop()
        await asyncio.gather(*tasks)

    messages = await _drain(sqs, url)
    bodies = [JOB_MESSAGE.validate_json(m["Body"]) for m in messages]
    per_fire = Counter((b.type, b.request_id) for b in bodies)
    assert per_fire, "nothing was enqueued"
    assert set(per_fire.values()) == {1}, f"a job was enqueued twice in one interval: {per_fire}"
    fires_per_job = Counter(t for t, _ in per_fire)
    assert fires_per_job["sync"] >= 3
    assert fires_per_job["cleanup"] >= 3
    groups = {m["Attributes"]["MessageGroupId"] for m in messages}
    assert groups == {"sync", "cleanup"}
    assert all(json.loads(m["Body"])["requested_by"] == "scheduler" for m in messages)
