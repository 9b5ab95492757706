"""EventBridge Scheduler publishes each job to sandbox-jobs.fifo, deduplicated by time bucket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.messages import JOB_MESSAGE
from schemas.settings import SchedulerSettings
from tests.infra.plan import by_key, one, plan

SCHEDULED_TIME = "2026-11-23T12:10:00Z"
EXECUTION_ID = "d32c5kddcf5bb8c3"
INTERVALS = {
    "sync": "sync_interval_s",
    "cleanup": "cleanup_interval_s",
    "expire": "expire_interval_s",
    "delete_stale": "delete_stale_interval_s",
}


def schedules() -> dict[str, Any]:
    return {
        k: s.config()
        for k, s in by_key(plan().child("scheduler"), "aws_scheduler_schedule", "job").items()
    }


def invoke(raw_input: str) -> dict[str, Any]:
    """What Scheduler sends: the input with its context attributes filled in."""
    filled = raw_input.replace("<aws.scheduler.scheduled-time>", SCHEDULED_TIME).replace(
        "<aws.scheduler.execution-id>", EXECUTION_ID
    )
    return json.loads(filled)


def test_one_schedule_per_job_at_the_scheduler_settings_intervals() -> None:
    found = schedules()
    assert set(found) == set(INTERVALS)
    for job, field in INTERVALS.items():
        minutes = SchedulerSettings.model_fields[field].default // 60
        assert found[job]["schedule_expression"] == f"rate({minutes} minutes)"
    assert found["sync"]["schedule_expression"] == "rate(10 minutes)"
    assert found["cleanup"]["schedule_expression"] == "rate(5 minutes)"
    assert found["expire"]["schedule_expression"] == "rate(5 minutes)"
    assert found["delete_stale"]["schedule_expression"] == "rate(1440 minutes)"  # 1 day


@pytest.mark.parametrize("job", sorted(INTERVALS))
def test_each_schedule_sends_the_job_message_to_the_job_queue(job: str) -> None:
    target = schedules()[job]["target"][0]
    assert target["arn"] == "arn:aws:scheduler:::aws-sdk:sqs:sendMessage"
    request = invoke(target["input"])
    assert request["QueueUrl"].endswith("/sandbox-jobs.fifo")
    assert request["MessageGroupId"] == job
    message = JOB_MESSAGE.validate_json(request["MessageBody"])
    assert message.type == job
    assert message.requested_by == "scheduler"
    assert message.requested_at.isoformat().startswith("2026-11-23T12:10:00")
    assert request["MessageAttributes"] == {
        "type": {"DataType": "String", "StringValue": job},
        "schema_version": {"DataType": "String", "StringValue": "1"},
        "request_id": {"DataType": "String", "StringValue": message.request_id},
    }


@pytest.mark.parametrize("job", sorted(INTERVALS))
def test_deduplication_is_by_job_and_scheduled_time(job: str) -> None:
    target = schedules()[job]["target"][0]
    # Scheduler only fills context attributes it can see: literal "<...>", not \u003c...\u003e.
    assert "<aws.scheduler.scheduled-time>" in target["input"]
    first, retry = invoke(target["input"]), invoke(target["input"])
    assert (
        first["MessageDeduplicationId"]
        == retry["MessageDeduplicationId"]
        == f"{job}:{SCHEDULED_TIME}"
    )
    # Retries stop before SQS's 5-minute deduplication window closes.
    assert target["retry_policy"][0]["maximum_event_age_in_seconds"] <= 300


def test_scheduler_assumes_its_own_role() -> None:
    ev = plan()
    role = one(ev.child("iam"), "aws_iam_role", "scheduler").get("arn")
    for config in schedules().values():
        assert config["target"][0]["role_arn"] == role
        assert config["flexible_time_window"] == [{"mode": "OFF"}]
        assert config["state"] == "ENABLED"
    assert all(
        c["state"] == "DISABLED"
        for c in (
            s.config()
            for s in by_key(
                plan(schedules_enabled=False).child("scheduler"), "aws_scheduler_schedule", "job"
            ).values()
        )
    )
