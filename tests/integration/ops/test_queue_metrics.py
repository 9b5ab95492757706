"""QueueSampler on a real moto server: gauges after one sample (issue 6, proof 6)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from consumers.queue_metrics import QueueSampler
from tests.factories import allocate_message, wait_until
from tests.integration.ops.conftest import Stack

pytestmark = pytest.mark.integration


async def test_sample_once_exports_depth_in_flight_and_dlq_gauges(stack: Stack) -> None:
    names = stack.names
    for n in range(3):
        await stack.sqs.send_message(
            QueueUrl=stack.url(names.requests_queue),
            MessageBody="{}",
            MessageGroupId=f"g{n}",
            MessageDeduplicationId=f"d{n}",
        )
    await stack.sqs.receive_message(
        QueueUrl=stack.url(names.requests_queue), MaxNumberOfMessages=1, WaitTimeSeconds=0
    )
    await stack.dead_letter(allocate_message("t1"), group="t1", dlq=names.jobs_dlq)
    registry = CollectorRegistry()
    sampler = QueueSampler(
        stack.sqs,
        queues=[names.requests_queue, names.jobs_queue],
        dlqs=[names.requests_dlq, names.jobs_dlq],
        registry=registry,
    )

    await sampler.sample_once()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    q = names.requests_queue
    assert value("broker_queue_messages", queue=q, state="visible") == 2
    assert value("broker_queue_messages", queue=q, state="in_flight") == 1
    assert value("broker_queue_messages", queue=q, state="delayed") == 0
    assert value("broker_queue_messages", queue=names.jobs_dlq, state="visible") == 1
    assert value("broker_dlq_messages", queue=names.jobs_dlq) == 1
    assert value("broker_dlq_messages", queue=names.requests_dlq) == 0
    assert value("broker_dlq_messages", queue=q) is None, "source queues are not DLQs"
    # moto does not report ApproximateAgeOfOldestMessage: the gauge stays unset, not 0
    assert value("broker_queue_oldest_age_seconds", queue=q) is None


async def test_run_samples_until_stopped_and_survives_a_missing_queue(stack: Stack) -> None:
    registry = CollectorRegistry()
    sampler = QueueSampler(
        stack.sqs,
        queues=[stack.names.requests_queue, "no-such-queue.fifo"],
        dlqs=[stack.names.requests_dlq],
        registry=registry,
        interval_s=0.05,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sampler.run(stop))

    def failures() -> float:
        return (
            registry.get_sample_value(
                "broker_queue_sample_failures_total", {"queue": "no-such-queue.fifo"}
            )
            or 0
        )

    await wait_until(lambda: failures() >= 2, timeout=10, what="two sampling rounds")
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert (
        registry.get_sample_value(
            "broker_queue_messages", {"queue": stack.names.requests_queue, "state": "visible"}
        )
        == 0
    )
