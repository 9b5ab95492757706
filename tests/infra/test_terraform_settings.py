"""One source of truth: Terraform's defaults and the consumer's environment are the settings'."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from schemas.settings import CommonSettings, ConsumerSettings, GatewaySettings, SchedulerSettings
from tests.infra.hcl import to_node
from tests.infra.plan import one, plan, root_module


def default(variable: str) -> Any:
    module = root_module()
    return plan().eval(to_node(module.variables[variable]["default"]), {})


def field_default(cls: type[BaseSettings], name: str) -> Any:
    return cls.model_fields[name].default


@pytest.mark.parametrize(
    ("variable", "cls", "field"),
    [
        ("region", CommonSettings, "aws_region"),
        ("name_prefix", CommonSettings, "name_prefix"),
        ("visibility_timeout_s", CommonSettings, "visibility_timeout_s"),
        ("max_receive_count", CommonSettings, "max_receive_count"),
        ("message_retention_s", CommonSettings, "message_retention_s"),
        ("reply_ttl_s", CommonSettings, "reply_ttl_s"),
        ("consumer_max_workers", ConsumerSettings, "max_workers"),
        ("consumer_http_port", ConsumerSettings, "http_port"),
        ("shutdown_timeout_s", ConsumerSettings, "shutdown_timeout_s"),
        ("sync_interval_s", SchedulerSettings, "sync_interval_s"),
        ("cleanup_interval_s", SchedulerSettings, "cleanup_interval_s"),
        ("expire_interval_s", SchedulerSettings, "expire_interval_s"),
        ("delete_stale_interval_s", SchedulerSettings, "delete_stale_interval_s"),
        ("track_rate_limit_per_min", GatewaySettings, "rate_limit_per_min"),
        ("track_rate_limit_burst", GatewaySettings, "rate_limit_burst"),
        ("admin_rate_limit_per_min", GatewaySettings, "admin_rate_limit_per_min"),
        ("admin_rate_limit_burst", GatewaySettings, "admin_rate_limit_burst"),
    ],
)
def test_terraform_defaults_are_the_settings_defaults(
    variable: str, cls: type[BaseSettings], field: str
) -> None:
    assert default(variable) == field_default(cls, field)


def test_name_prefix_rule_is_the_settings_rule() -> None:
    validation = root_module().variables["name_prefix"]["validation"][0]
    condition = validation["condition"]
    pattern = re.search(r'regex\(\\?"(.+?)\\?", var\.name_prefix', condition)
    assert pattern, condition
    metadata = CommonSettings.model_fields["name_prefix"].metadata
    assert any(getattr(m, "pattern", None) == pattern.group(1) for m in metadata)


def container(**overrides: Any) -> dict[str, Any]:
    ecs = plan(**overrides).child("ecs")
    definitions = json.loads(
        one(ecs, "aws_ecs_task_definition", "consumer").get("container_definitions")
    )
    assert len(definitions) == 1
    return definitions[0]


def consumer_env(**overrides: Any) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(**overrides)["environment"]}


def test_every_broker_variable_of_the_consumer_is_a_consumer_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = consumer_env(name_prefix="staging-")
    fields = {f"BROKER_{name.upper()}" for name in ConsumerSettings.model_fields}
    assert set(env) <= fields, set(env) - fields
    # ... and the consumer reads them back as the Terraform meant them.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BROKER_CSP_TOKEN", "from-secrets-manager")
    settings = ConsumerSettings()
    assert settings.name_prefix == "staging-"
    assert settings.names.requests_queue == "staging-sandbox-requests.fifo"
    assert settings.log_format == "json"
    assert settings.http_port == 8001
    assert settings.shutdown_timeout_s == 30
    assert settings.csp_base_url == "https://csp.example.com/api"


def test_extra_consumer_settings_are_passed_through() -> None:
    env = consumer_env(consumer_environment={"BROKER_LAB_DURATION_S": "7200"})
    assert env["BROKER_LAB_DURATION_S"] == "7200"


def test_the_csp_token_is_injected_from_secrets_manager_never_set_in_plain_text() -> None:
    definition = container()
    assert [s["name"] for s in definition["secrets"]] == ["BROKER_CSP_TOKEN"]
    assert definition["secrets"][0]["valueFrom"].startswith("arn:aws:secretsmanager:")
    assert "BROKER_CSP_TOKEN" not in consumer_env()
