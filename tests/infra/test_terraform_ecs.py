"""ECS Fargate: only the consumer, healthy on /readyz, drained on stop, scaled on backlog."""

from __future__ import annotations

import json
from typing import Any

from schemas.settings import ConsumerSettings
from tests.infra.plan import instances, one, plan


def ecs() -> Any:
    return plan().child("ecs")


def container() -> dict[str, Any]:
    return json.loads(
        one(ecs(), "aws_ecs_task_definition", "consumer").get("container_definitions")
    )[0]


def test_only_the_consumer_runs_on_ecs() -> None:
    """API Gateway is the gateway and EventBridge Scheduler the scheduler on AWS."""
    services = instances(plan(), "aws_ecs_service")
    assert [s.get("name") for s in services] == ["sandbox-broker-consumer"]
    assert container()["command"] == ["sandbox-broker", "consumer"]
    service = services[0].config()
    assert service["launch_type"] == "FARGATE"
    assert service["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]
    assert service["network_configuration"][0]["assign_public_ip"] is False


def test_the_container_health_check_asks_readyz_on_the_consumer_port() -> None:
    check = container()["healthCheck"]
    command = " ".join(check["command"])
    assert "/readyz" in command
    assert "BROKER_HTTP_PORT" in command
    assert f"'{ConsumerSettings.model_fields['http_port'].default}'" in command
    # The image has Python but no curl.
    assert check["command"][:2] == ["CMD", "python"]


def test_stop_timeout_outlasts_the_drain_deadline() -> None:
    drain = ConsumerSettings.model_fields["shutdown_timeout_s"].default
    stop = container()["stopTimeout"]
    assert stop >= 60
    assert stop >= 2 * drain
    assert stop <= 120  # Fargate's maximum
    # A longer drain deadline moves stopTimeout with it, within Fargate's limit.
    longer = plan(shutdown_timeout_s=50).child("ecs")
    definition = json.loads(
        one(longer, "aws_ecs_task_definition", "consumer").get("container_definitions")
    )
    assert definition[0]["stopTimeout"] == 100


def test_the_container_cannot_write_outside_tmp() -> None:
    definition = container()
    assert definition["readonlyRootFilesystem"] is True
    assert definition["mountPoints"] == [
        {"containerPath": "/tmp", "readOnly": False, "sourceVolume": "tmp"}
    ]


def test_autoscaling_tracks_visible_messages_per_running_task() -> None:
    policy = one(ecs(), "aws_appautoscaling_policy", "backlog_per_task").config()
    assert policy["policy_type"] == "TargetTrackingScaling"
    tracking = policy["target_tracking_scaling_policy_configuration"][0]
    assert tracking["target_value"] == 100
    metrics = {m["id"]: m for m in tracking["customized_metric_specification"][0]["metrics"]}
    returned = [m for m in metrics.values() if m["return_data"]]
    assert len(returned) == 1
    assert returned[0]["expression"] == "(requests + jobs) / tasks"

    def metric(mid: str) -> dict[str, Any]:
        return metrics[mid]["metric_stat"][0]["metric"][0]

    for mid, queue in (("requests", "sandbox-requests.fifo"), ("jobs", "sandbox-jobs.fifo")):
        assert metric(mid)["metric_name"] == "ApproximateNumberOfMessagesVisible"
        assert metric(mid)["dimensions"] == [{"name": "QueueName", "value": queue}]
    assert metric("tasks")["namespace"] == "ECS/ContainerInsights"
    assert metric("tasks")["metric_name"] == "RunningTaskCount"
    target = one(ecs(), "aws_appautoscaling_target", "consumer").config()
    assert target["min_capacity"] >= 1
    # RunningTaskCount exists only with Container Insights.
    cluster = one(ecs(), "aws_ecs_cluster", "this").config()
    assert cluster["setting"] == [{"name": "containerInsights", "value": "enabled"}]


def test_tasks_accept_no_inbound_traffic() -> None:
    group = one(ecs(), "aws_security_group", "consumer").config()
    assert "ingress" not in group
    assert [(e["from_port"], e["to_port"], e["protocol"]) for e in group["egress"]] == [
        (443, 443, "tcp")
    ]
