"""CloudWatch: the seeds' filters and queries on our log fields, alarms to SNS, a dashboard."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from schemas.messages import MessageType
from tests.infra.plan import by_key, instances, one, plan

#: structlog's fields (DESIGN.md "Observing it") and the gauge line's field.
LOG_FIELDS = {
    "level",
    "event",
    "request_id",
    "action",
    "outcome",
    "latency_ms",
    "track_id",
    "sandbox_id",
    "message_group",
    "receive_count",
    "available",
    "tenant",  # v2: a new lease's line names its tenant (the drain-guard metrics)
}
#: The API access log's fields (modules/api_gateway/stage.tf).
ACCESS_FIELDS = {"request_id", "status", "role", "path", "source_ip", "latency_ms"}
LEVELS = {"debug", "info", "warning", "error", "critical"}
OUTCOMES = {"succeeded", "failed", "no_sandboxes"}
ACTIONS = {m.value for m in MessageType}
#: What the old system's filters and queries used that our log lines do not have.
SEED_NAMES = ["message", "ERROR", "allocate_sandbox", "success", "background", "ENG CSP"]


def cw() -> Any:
    return plan().child("cloudwatch")


def alarms() -> dict[str, dict[str, Any]]:
    return {a.get("alarm_name"): a.config() for a in cw().instances("aws_cloudwatch_metric_alarm")}


def test_metric_filters_use_only_our_field_names_and_values() -> None:
    filters = {
        f.get("name"): f.config() for f in cw().instances("aws_cloudwatch_log_metric_filter")
    }
    assert len(filters) >= 6
    for name, config in filters.items():
        pattern = config["pattern"]
        fields = set(re.findall(r"\$\.([a-z_]+)", pattern))
        allowed = ACCESS_FIELDS if name.endswith("Api5xx") else LOG_FIELDS
        assert fields and fields <= allowed, (name, fields)
        for field, value in re.findall(r'\$\.([a-z_]+) = "([^"]*)"', pattern):
            if field == "level":
                assert value in LEVELS, (name, value)
            elif field == "action":
                assert value in ACTIONS, (name, value)
            elif field == "outcome":
                assert value in OUTCOMES, (name, value)
        for seed in SEED_NAMES:
            assert seed not in pattern, (name, seed)


def test_the_pool_gauge_becomes_a_metric() -> None:
    gauge = one(cw(), "aws_cloudwatch_log_metric_filter", "pool_available").config()
    assert gauge["pattern"] == '{ $.event = "pool_stats" }'
    assert gauge["metric_transformation"][0]["name"] == "PoolAvailable"
    assert gauge["metric_transformation"][0]["value"] == "$.available"


def test_quarantined_sandboxes_are_a_metric_and_alarm_above_zero() -> None:
    gauge = one(cw(), "aws_cloudwatch_log_metric_filter", "pool_quarantined").config()
    assert gauge["pattern"] == '{ $.event = "pool_stats" }'
    assert gauge["metric_transformation"][0]["name"] == "PoolQuarantined"
    assert gauge["metric_transformation"][0]["value"] == "$.quarantined"
    alarm = alarms()["sandbox-broker-pool-quarantined"]
    assert (alarm["metric_name"], alarm["comparison_operator"], alarm["threshold"]) == (
        "PoolQuarantined",
        "GreaterThanThreshold",
        0,
    )
    assert alarm["statistic"] == "Maximum"


def test_insights_queries_use_only_our_field_names() -> None:
    queries = {q.get("name"): q.config() for q in cw().instances("aws_cloudwatch_query_definition")}
    assert len(queries) >= 6
    for name, config in queries.items():
        text = config["query_string"]
        fields_lines = re.findall(r"^\s*fields (.+)$", text, flags=re.M)
        used = {f.strip() for line in fields_lines for f in line.split(",")}
        used |= set(re.findall(r"(?:filter|sort|by|\()\s*([a-z_]+)\b(?!\()", text))
        used -= {"desc", "asc"} | set(re.findall(r" as ([a-z_0-9]+)", text))  # stats aliases
        allowed = LOG_FIELDS | ACCESS_FIELDS | {"@timestamp", "@message"}
        assert used <= allowed, (name, used - allowed)
        for seed in ("message,", "allocate_sandbox", '"success"', "background", '"ERROR"'):
            assert seed not in text, (name, seed)
        assert config["log_group_names"], name


def test_every_dlq_alarms_on_any_visible_message_and_treats_silence_as_fine() -> None:
    found = alarms()
    for dlq in ("sandbox-requests-dlq.fifo", "sandbox-jobs-dlq.fifo"):
        [alarm] = [a for a in found.values() if a.get("dimensions") == {"QueueName": dlq}]
        assert alarm["metric_name"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["comparison_operator"] == "GreaterThanThreshold"
        assert alarm["threshold"] == 0
        assert alarm["treat_missing_data"] == "notBreaching"


def test_every_source_queue_alarms_when_its_oldest_message_exceeds_the_slo() -> None:
    ages = [a for a in alarms().values() if a.get("metric_name") == "ApproximateAgeOfOldestMessage"]
    assert sorted(a["dimensions"]["QueueName"] for a in ages) == [
        "sandbox-jobs.fifo",
        "sandbox-requests.fifo",
    ]
    assert {a["threshold"] for a in ages} == {300}
    slower = plan(queue_age_slo_s=900).child("cloudwatch")
    assert {
        a.get("threshold")
        for a in slower.instances("aws_cloudwatch_metric_alarm")
        if a.get("metric_name") == "ApproximateAgeOfOldestMessage"
    } == {900}


def test_backlog_per_task_error_rate_pool_and_api_alarms() -> None:
    found = alarms()
    backlog = found["sandbox-broker-backlog-per-task"]
    queries = {q["id"]: q for q in backlog["metric_query"]}
    assert "tasks" in queries["backlog_per_task"]["expression"]
    assert queries["tasks"]["metric"][0]["metric_name"] == "RunningTaskCount"

    pool = found["sandbox-broker-pool-available-low"]
    assert (pool["metric_name"], pool["comparison_operator"], pool["threshold"]) == (
        "PoolAvailable",
        "LessThanThreshold",
        5,
    )

    errors = found["sandbox-broker-consumer-error-rate"]
    metrics = {q["id"]: q for q in errors["metric_query"]}
    assert metrics["errors"]["metric"][0]["metric_name"] == "ConsumerErrors"

    api = found["sandbox-broker-api-5xx-rate"]
    assert api["metric_name"] == "5XXError"
    assert api["dimensions"] == {"ApiName": "sandbox-broker", "Stage": "live"}


def test_every_alarm_notifies_the_topic_and_decides_missing_data() -> None:
    topic = one(cw(), "aws_sns_topic", "alarms").get("arn")
    found = alarms()
    assert len(found) >= 8
    for name, alarm in found.items():
        assert alarm["alarm_actions"] == [topic], name
        assert alarm["ok_actions"] == [topic], name
        assert alarm["treat_missing_data"] in {"notBreaching", "breaching"}, name


def test_alarm_emails_subscribe_to_the_topic() -> None:
    ev = plan(alarm_emails=["oncall@example.com"])
    subs = by_key(ev.child("cloudwatch"), "aws_sns_topic_subscription", "email")
    assert {k: s.get("protocol") for k, s in subs.items()} == {"oncall@example.com": "email"}


def test_the_dashboard_shows_queues_dlqs_consumers_pool_and_api() -> None:
    body = json.loads(one(cw(), "aws_cloudwatch_dashboard", "this").get("dashboard_body"))
    text = json.dumps(body)
    for needle in (
        "sandbox-requests.fifo",
        "sandbox-jobs-dlq.fifo",
        "RunningTaskCount",
        "PoolAvailable",
        "5XXError",
        "ApproximateAgeOfOldestMessage",
    ):
        assert needle in text, needle
    assert all(w["type"] in {"metric", "log"} for w in body["widgets"])


@pytest.mark.parametrize("prefix", ["", "qa-"])
def test_log_groups_and_namespace_follow_the_prefix(prefix: str) -> None:
    ev = plan(name_prefix=prefix).child("cloudwatch")
    groups = {g.get("name") for g in ev.instances("aws_cloudwatch_log_group")}
    assert groups == {
        f"/ecs/{prefix}sandbox-broker/consumer",
        f"/aws/lambda/{prefix}sandbox-broker-authorizer",
        f"/aws/lambda/{prefix}sandbox-broker-read",
        f"/aws/apigateway/{prefix}sandbox-broker/access",
    }
    assert ev.output("metric_namespace") == f"SandboxBroker/{prefix}sandbox-broker"
    assert instances(ev, "aws_cloudwatch_log_group")[0].get("retention_in_days") == 30


def test_drain_guards_alarm_on_allocation_surges_and_available_falling_fast() -> None:
    """v2: allocations far above their band, one tenant's allocations per minute, and
    available falling fast between syncs, each an alarm; the per-tenant metric has a
    Tenant dimension from the log line."""
    found = alarms()
    surge = found["sandbox-broker-allocation-surge"]
    assert surge["comparison_operator"] == "GreaterThanUpperThreshold"
    assert any(
        "ANOMALY_DETECTION_BAND" in (q.get("expression") or "") for q in surge["metric_query"]
    )
    tenant = found["sandbox-broker-tenant-allocation-surge"]
    assert "TenantAllocations" in tenant["metric_query"][0]["expression"]
    falling = found["sandbox-broker-available-falling-fast"]
    assert falling["threshold"] < 0
    per_tenant = one(cw(), "aws_cloudwatch_log_metric_filter", "tenant_allocations").config()
    assert per_tenant["metric_transformation"][0]["dimensions"] == {"Tenant": "$.tenant"}
