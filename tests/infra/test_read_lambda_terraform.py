"""The read Lambda as the Terraform deploys it: exactly the code routes, proxied; its
package, environment, permissions and timeouts agree with the code it runs."""

from __future__ import annotations

import fnmatch
import importlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

import dev
from infra.read_lambda.handler import CLIENT_CONFIG
from producers.gateway.routes.code import code_routes
from schemas.settings import ReadLambdaSettings
from tests.infra.plan import by_key, one, plan


def resource_paths(api: Any) -> dict[str, str]:
    """Resource id -> its full path, walking parent ids up to the API's root."""
    resources = {r.get("id"): r.config() for r in api.instances("aws_api_gateway_resource")}
    root = one(api, "aws_api_gateway_rest_api", "this").get("root_resource_id")

    def path(rid: str) -> str:
        if rid == root:
            return ""
        config = resources[rid]
        return f"{path(config['parent_id'])}/{config['path_part']}"

    return {rid: path(rid) for rid in resources}


def code_route_paths() -> set[tuple[str, str]]:
    router = code_routes(object())  # type: ignore[arg-type]  # building routes reads nothing
    return {
        (method, route.path)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }


@pytest.fixture(scope="module")
def api() -> Any:
    return plan().child("api_gateway")


def test_api_gateway_proxies_exactly_the_code_routes_to_the_lambda(api: Any) -> None:
    paths = resource_paths(api)
    proxied = set()
    for key, integration in by_key(api, "aws_api_gateway_integration", "code").items():
        config = integration.config()
        assert config["type"] == "AWS_PROXY"
        assert config["integration_http_method"] == "POST"  # how Lambda is invoked
        assert config["uri"] == one(plan().child("read_lambda"), "aws_lambda_function", "read").get(
            "invoke_arn"
        )
        method = by_key(api, "aws_api_gateway_method", "code")[key].config()
        proxied.add((method["http_method"], paths[config["resource_id"]]))
    assert proxied == code_route_paths()
    # ... and nothing else reaches the Lambda
    others = [i for i in api.instances("aws_api_gateway_integration") if i.name != "code"]
    assert all(i.get("type") != "AWS_PROXY" for i in others)


def test_code_routes_take_the_authorizer_and_a_usage_plan(api: Any) -> None:
    for method in by_key(api, "aws_api_gateway_method", "code").values():
        config = method.config()
        assert config["authorization"] == "CUSTOM"
        assert config["api_key_required"] is True


def test_api_gateway_may_invoke_the_lambda_for_each_code_route_only(api: Any) -> None:
    execution = one(api, "aws_api_gateway_rest_api", "this").get("execution_arn")
    permissions = [p.config() for p in by_key(api, "aws_lambda_permission", "read_lambda").values()]
    for p in permissions:
        assert p["principal"] == "apigateway.amazonaws.com"
        assert p["function_name"] == "sandbox-broker-read"

    def allowed(method: str, path: str) -> bool:
        arn = f"{execution}/live/{method}{path}"
        return any(fnmatch.fnmatchcase(arn, p["source_arn"]) for p in permissions)

    for method, path in code_route_paths():
        concrete = path.replace("{sandbox_id}", "sbx-1").replace("{name}", "acme")
        assert allowed(method, concrete), path
    assert not allowed("POST", "/v1/allocate")
    assert not allowed("GET", "/v1/requests/req_1")
    assert not allowed("POST", "/v1/sandboxes/sbx-1/mark-for-deletion")


def test_the_function_runs_the_handler_with_settings_the_handler_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ev = plan(name_prefix="qa-", cors_origins=["https://play.example", "https://b.example"])
    function = one(ev.child("read_lambda"), "aws_lambda_function", "read").config()
    module, _, name = function["handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    assert function["runtime"] == "python3.12"
    assert function["architectures"] == ["x86_64"]
    env = function["environment"][0]["variables"]
    fields = {f"BROKER_{f.upper()}" for f in ReadLambdaSettings.model_fields}
    assert set(env) <= fields, set(env) - fields
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = ReadLambdaSettings()
    assert settings.names.pool_table == "qa-sandbox-pool"
    assert settings.cors_origins == ["https://play.example", "https://b.example"]
    assert settings.track_token_secret_arn.startswith("arn:aws:secretsmanager:")
    assert settings.log_format == "json"
    assert settings.token_cache_ttl_s == 60  # the authorizer's token_cache_ttl_s
    assert not any("TOKEN" in k and "ARN" not in k and "TTL" not in k for k in env)


def test_the_package_is_dev_pys_build(tmp_path: Path) -> None:
    rl = plan().child("read_lambda")
    sources = {
        i.name: Path(i.get("source_dir")).resolve()
        for i in rl.instances("archive_file", kind="data")
    }
    assert sources == {
        "function": (dev.LAMBDA_BUILD / "function").resolve(),
        "layer": (dev.LAMBDA_BUILD / "layer").resolve(),
    }
    layer = one(rl, "aws_lambda_layer_version", "dependencies").config()
    function = one(rl, "aws_lambda_function", "read").config()
    assert layer["compatible_runtimes"] == [function["runtime"]]
    assert layer["compatible_architectures"] == function["architectures"]
    assert "--platform" in dev.LAMBDA_PLATFORM and "manylinux2014_x86_64" in dev.LAMBDA_PLATFORM
    assert dev.LAMBDA_PLATFORM[dev.LAMBDA_PLATFORM.index("--python-version") + 1] == "3.12"


def test_a_slow_dynamodb_is_a_503_before_the_function_times_out() -> None:
    function = one(plan().child("read_lambda"), "aws_lambda_function", "read").config()
    per_attempt = CLIENT_CONFIG.connect_timeout + CLIENT_CONFIG.read_timeout
    attempts = CLIENT_CONFIG.retries["max_attempts"]
    assert per_attempt * attempts < function["timeout"]


def test_minting_is_proxied_to_the_lambda_for_the_admin_token_only(api: Any) -> None:
    from infra.authorizer.handler import ADMIN, TRACK, policy_for

    mint = by_key(api, "aws_api_gateway_method", "code")["admin-tenant-track-tokens"].config()
    assert mint["http_method"] == "POST"
    assert mint["authorization"] == "CUSTOM"
    assert mint["request_parameters"]["method.request.path.name"] is True
    # The authorizer's cached answers: the admin token's allows it, the track token's denies.
    api_arn = "arn:aws:execute-api:eu-central-1:123456789012:abc123"
    arn = f"{api_arn}/live/POST/v1/admin/tenants/acme/track-tokens"

    def decision(statements: list[dict[str, Any]]) -> str:
        hits = [
            s["Effect"]
            for s in statements
            if any(fnmatch.fnmatchcase(arn, r) for r in s["Resource"])
        ]
        return "Deny" if "Deny" in hits or not hits else "Allow"

    assert decision(policy_for({ADMIN}, arn)) == "Allow"
    assert decision(policy_for({TRACK}, arn)) == "Deny"
