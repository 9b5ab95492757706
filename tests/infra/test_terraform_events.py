"""v2 on AWS: the pool table's stream → the events Lambda → an EventBridge bus, a DLQ for
failed batches, alarms, and a role that may do exactly what the handler does."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

import dev
from schemas.events import EVENT_SOURCE
from schemas.settings import EventsLambdaSettings
from tests.infra.plan import one, plan


@pytest.fixture(scope="module")
def events() -> Any:
    return plan().child("events")


def test_the_pool_stream_feeds_the_lambda_only_sandbox_items_with_a_dlq(events: Any) -> None:
    pool = one(plan().child("dynamodb"), "aws_dynamodb_table", "pool").config()
    assert (pool["stream_enabled"], pool["stream_view_type"]) == (True, "NEW_AND_OLD_IMAGES")
    mapping = one(events, "aws_lambda_event_source_mapping", "stream").config()
    assert mapping["event_source_arn"] == one(
        plan().child("dynamodb"), "aws_dynamodb_table", "pool"
    ).get("stream_arn")
    assert mapping["function_name"] == one(events, "aws_lambda_function", "events").get("arn")
    assert mapping["starting_position"] == "TRIM_HORIZON"
    assert mapping["bisect_batch_on_function_error"] is True
    assert mapping["maximum_retry_attempts"] > 0
    (flt,) = mapping["filter_criteria"][0]["filter"]
    assert json.loads(flt["pattern"]) == {"dynamodb": {"Keys": {"PK": {"S": [{"prefix": "SBX#"}]}}}}
    dlq = one(events, "aws_sqs_queue", "dlq")
    assert mapping["destination_config"][0]["on_failure"][0]["destination_arn"] == dlq.get("arn")
    assert dlq.config()["sqs_managed_sse_enabled"] is True


def test_the_lambda_runs_the_events_handler_with_its_settings(events: Any) -> None:
    function = one(events, "aws_lambda_function", "events").config()
    module, _, name = function["handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    assert "infra/events_lambda" in dev.LAMBDA_SOURCES
    env = function["environment"][0]["variables"]
    bus = one(events, "aws_cloudwatch_event_bus", "events").get("name")
    assert env["BROKER_EVENTS_BUS_NAME"] == bus
    settings = EventsLambdaSettings(
        **{k.removeprefix("BROKER_").lower(): v for k, v in env.items()}
    )
    assert settings.events_bus_name == bus and settings.history_ttl_s == 90 * 86_400
    assert function["layers"] == [
        one(plan().child("read_lambda"), "aws_lambda_layer_version", "dependencies").get("arn")
    ]
    assert EVENT_SOURCE == "sandbox-broker"


def test_the_role_may_do_exactly_what_the_handler_does(events: Any) -> None:
    policy = json.loads(one(events, "aws_iam_role_policy", "events").get("policy"))
    granted = {
        (action, resource)
        for st in policy["Statement"]
        for action in st["Action"]
        for resource in st["Resource"]
    }
    stream = one(plan().child("dynamodb"), "aws_dynamodb_table", "pool").get("stream_arn")
    table = one(plan().child("dynamodb"), "aws_dynamodb_table", "pool").get("arn")
    bus = one(events, "aws_cloudwatch_event_bus", "events").get("arn")
    dlq = one(events, "aws_sqs_queue", "dlq").get("arn")
    logs = one(events, "aws_cloudwatch_log_group", "events").get("arn")
    stream_reads = ["DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"]
    assert granted == (
        {(f"dynamodb:{a}", stream) for a in stream_reads}
        | {("dynamodb:PutItem", table), ("dynamodb:UpdateItem", table)}
        | {("events:PutEvents", bus), ("sqs:SendMessage", dlq)}
        | {("logs:CreateLogStream", f"{logs}:*"), ("logs:PutLogEvents", f"{logs}:*")}
    )
    (history,) = [st for st in policy["Statement"] if st["Sid"] == "WriteHistory"]
    assert history["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["HIST#*"]}}


def test_failed_deliveries_errors_and_lag_alarm_on_the_topic(events: Any) -> None:
    topic = one(plan().child("cloudwatch"), "aws_sns_topic", "alarms").get("arn")
    alarms = {
        a.get("alarm_name"): a.config() for a in events.instances("aws_cloudwatch_metric_alarm")
    }
    assert set(alarms) == {
        "sandbox-broker-events-dlq-not-empty",
        "sandbox-broker-events-lambda-errors",
        "sandbox-broker-events-behind",
    }
    dlq = alarms["sandbox-broker-events-dlq-not-empty"]
    assert dlq["dimensions"] == {"QueueName": "sandbox-broker-events-dlq"}
    assert (dlq["comparison_operator"], dlq["threshold"]) == ("GreaterThanThreshold", 0)
    for alarm in alarms.values():
        assert alarm["alarm_actions"] == [topic] and alarm["ok_actions"] == [topic]
