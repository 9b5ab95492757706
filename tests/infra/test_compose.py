"""docker-compose.localstack.yml and the Dockerfile: the stack on LocalStack, built from here."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from schemas.settings import CommonSettings, ConsumerSettings, GatewaySettings, SchedulerSettings
from tests.infra.plan import REPO

COMPOSE = REPO / "docker-compose.localstack.yml"
DOCKERFILE = REPO / "Dockerfile"

#: The settings class each service's process reads (schemas/settings.py).
SETTINGS_OF: dict[str, type[BaseSettings]] = {
    "provision": CommonSettings,
    "consumer": ConsumerSettings,
    "scheduler": SchedulerSettings,
    "gateway": GatewaySettings,
    # v2: `sandbox-broker events` reads the consumer's settings (webhook, history TTL).
    "events": ConsumerSettings,
    # `sandbox-broker fake-csp` reads the token the consumer sends (BROKER_CSP_TOKEN).
    "fake-csp": ConsumerSettings,
    # `sandbox-broker smoke` reads the gateway's tokens as its --token / --admin-token.
    "smoke": GatewaySettings,
}
#: One-shot services: they run to completion, so no health check and no AWS endpoint.
ONE_SHOT = {"provision", "smoke"}
#: Standard AWS SDK variables a service may set.
AWS_VARIABLES = {
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def env_names(cls: type[BaseSettings]) -> set[str]:
    """Every environment name a settings class reads: BROKER_<field> plus its aliases."""
    prefix = cls.model_config.get("env_prefix", "")
    names = {f"{prefix}{name}".upper() for name in cls.model_fields}
    for field in cls.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [alias] if isinstance(alias, str) else [])
        names |= {c for c in choices if isinstance(c, str)}
    return names


def test_the_stack_has_localstack_a_provisioner_and_the_three_processes(
    services: dict[str, Any],
) -> None:
    assert {"localstack", "provision", "gateway", "consumer", "scheduler"} <= set(services)
    assert services["localstack"]["image"].startswith("localstack/localstack:")
    assert services["localstack"]["image"].split(":")[1] != "latest"  # pinned
    for name in ("provision", "gateway", "consumer", "scheduler", "fake-csp"):
        service = services[name]
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        assert service["command"][0] == "sandbox-broker", name
    assert services["provision"]["command"] == ["sandbox-broker", "infra", "provision"]
    assert services["consumer"]["command"] == ["sandbox-broker", "consumer"]
    assert services["scheduler"]["command"] == ["sandbox-broker", "scheduler"]
    assert services["gateway"]["command"] == ["sandbox-broker", "gateway"]


def test_provisioning_runs_once_against_localstack_before_the_processes(
    services: dict[str, Any],
) -> None:
    provision = services["provision"]
    assert provision["restart"] == "no"
    assert provision["environment"]["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert provision["depends_on"] == {"localstack": {"condition": "service_healthy"}}
    for name in ("consumer", "scheduler", "gateway"):
        depends = services[name]["depends_on"]
        assert depends["provision"] == {"condition": "service_completed_successfully"}, name
        assert services[name]["environment"]["AWS_ENDPOINT_URL"] == "http://localstack:4566"


def test_every_long_running_service_has_a_health_check(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), name
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
    gateway = " ".join(services["gateway"]["healthcheck"]["test"])
    consumer = " ".join(services["consumer"]["healthcheck"]["test"])
    assert f":{GatewaySettings.model_fields['port'].default}/readyz" in gateway
    assert f":{ConsumerSettings.model_fields['http_port'].default}/readyz" in consumer


@pytest.mark.parametrize("name", sorted(SETTINGS_OF))
def test_every_variable_a_service_sets_is_a_setting_it_reads(
    services: dict[str, Any], name: str
) -> None:
    environment = services[name].get("environment", {})
    readable = env_names(SETTINGS_OF[name])
    for variable in environment:
        if variable.startswith("AWS_"):
            assert variable in AWS_VARIABLES, (name, variable)
        else:
            assert variable.startswith("BROKER_"), (name, variable)
            assert variable in readable, (name, variable)


def test_values_parse_as_the_settings_they_configure(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, cls in SETTINGS_OF.items():
        for variable in list(os.environ):
            if variable.startswith(("BROKER_", "AWS_ENDPOINT")):
                monkeypatch.delenv(variable)
        for variable, value in services[name].get("environment", {}).items():
            monkeypatch.setenv(variable, _interpolate(str(value)))
        settings = cls()
        if name not in {"fake-csp", "smoke"}:
            assert isinstance(settings, CommonSettings)
            assert settings.aws_endpoint_url == "http://localstack:4566", name


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR:?message} with VAR unset in the test."""
    # a required variable stands for a distinct secret of its own (settings refuse equal ones)
    required = re.sub(
        r"\$\{([A-Z_]+):\?[^}]*\}", lambda m: f"{m.group(1).lower()}-{'x' * 24}", value
    )
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", required)


def test_tokens_come_from_the_environment_never_from_the_file(services: dict[str, Any]) -> None:
    gateway = services["gateway"]["environment"]
    for token in ("BROKER_TRACK_TOKEN", "BROKER_ADMIN_TOKEN"):
        assert re.fullmatch(rf"\$\{{{token}:\?[^}}]+\}}", gateway[token]), token


def test_the_consumer_drains_before_docker_kills_it(services: dict[str, Any]) -> None:
    grace = services["consumer"]["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) >= 2 * int(
        services["consumer"]["environment"]["BROKER_SHUTDOWN_TIMEOUT_S"]
    )


def test_only_the_gateway_and_localstack_are_published_on_loopback(
    services: dict[str, Any],
) -> None:
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert set(published) == {"gateway", "localstack"}
    for ports in published.values():
        assert all(p.startswith("127.0.0.1:") for p in ports)


def test_the_image_is_python_slim_installed_with_pip_and_runs_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert stages and all(s == "python:3.11-slim" for s in stages)
    install = r"^RUN .*pip install --no-deps \./packages/faststream-sqs \.$"
    assert re.search(install, text, flags=re.M)
    users = re.findall(r"^USER (\S+)$", text, flags=re.M)
    assert users and users[-1] not in {"root", "0"}
    cmd = re.findall(r"^CMD (.+)$", text, flags=re.M)
    assert cmd and cmd[-1].startswith('["sandbox-broker"')


def test_every_package_the_cli_imports_is_copied_into_the_image() -> None:
    text = DOCKERFILE.read_text()
    copied = set(re.findall(r"^COPY (\S+) \./", text, flags=re.M))
    for package in ("schemas", "packages/faststream-sqs", "consumers", "producers", "infra"):
        assert package in copied, package
    assert (REPO / "pyproject.toml").is_file() and Path(REPO / "README.md").is_file()


def test_every_command_the_deployments_run_exists_in_the_cli(services: dict[str, Any]) -> None:
    """The compose services and the ECS task run real `sandbox-broker` commands and options."""
    import typer

    from infra.cli import app

    root = typer.main.get_command(app)
    commands = [s["command"] for s in services.values() if "command" in s]
    commands.append(["sandbox-broker", "consumer"])  # the ECS task (modules/ecs)
    for argv in commands:
        assert argv[0] == "sandbox-broker"
        ctx = root.make_context("sandbox-broker", [], resilient_parsing=True)
        command: Any = root
        args = argv[1:]
        # Groups (typer may bring its own click) have get_command; leaf commands do not.
        while hasattr(command, "get_command") and args and not args[0].startswith("-"):
            found = command.get_command(ctx, args[0])
            assert found is not None, argv
            command, args = found, args[1:]
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        for arg in args:
            if arg.startswith("--"):
                assert arg in options, (argv, arg)


RUNTIME_LOCK = REPO / "requirements" / "runtime.txt"
#: What the embedded stack and the tests need and the production image must not carry.
NOT_IN_THE_IMAGE = ("moto", "flask", "werkzeug", "docker", "cfn-lint", "pytest", "hypothesis")


def _locked(lock: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock.read_text(), flags=re.M)
    return {name.lower().replace("_", "-"): version for name, version in pins}


def test_the_image_installs_only_from_the_runtime_lock_with_hashes() -> None:
    text = DOCKERFILE.read_text()
    installs = re.findall(r"^RUN .*pip install (.+)$", text, flags=re.M)
    assert installs == [
        "--require-hashes -r requirements/runtime.txt",
        "--no-deps ./packages/faststream-sqs .",
    ]
    copied = re.findall(r"^COPY (\S+) ", text, flags=re.M)
    assert "requirements/runtime.txt" in copied
    assert "requirements/dev.txt" not in text


def test_the_runtime_lock_has_no_embedded_or_dev_package_and_every_pin_is_hashed() -> None:
    locked = _locked(RUNTIME_LOCK)
    assert {"aiobotocore", "boto3", "faststream", "fastapi", "pydantic"} <= set(locked)
    assert not set(NOT_IN_THE_IMAGE) & set(locked)
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", RUNTIME_LOCK.read_text())
    assert all("--hash=sha256:" in b for b in blocks if re.match(r"[A-Za-z0-9_.-]+==", b))


def test_the_dev_lock_pins_the_runtime_packages_at_the_same_versions() -> None:
    runtime, dev = _locked(RUNTIME_LOCK), _locked(REPO / "requirements" / "dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime
    assert dev["moto"] == "5.2.5"


def test_the_stack_is_smoke_checked_once_the_gateway_is_ready(services: dict[str, Any]) -> None:
    smoke = services["smoke"]
    assert smoke["command"][:3] == ["sandbox-broker", "smoke", "--url"]
    assert smoke["command"][3] == f"http://gateway:{GatewaySettings.model_fields['port'].default}"
    assert smoke["restart"] == "no"
    assert smoke["depends_on"] == {"gateway": {"condition": "service_healthy"}}
    assert set(smoke["environment"]) == {"BROKER_TRACK_TOKEN", "BROKER_ADMIN_TOKEN"}
    for value in smoke["environment"].values():
        assert value.startswith("${")  # from the environment, never the file
