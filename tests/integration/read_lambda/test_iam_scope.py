"""The read Lambda's role grants what its routes call, no less and no more: the calls are
recorded while every code route answers, on the real moto server, and compared with the
Terraform's policy for that role."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from schemas.pool import SandboxStatus
from tests.infra.plan import plan
from tests.integration.gateway.helpers import ADMIN, TRACK, GatewayEnv, make_sandbox
from tests.integration.read_lambda.conftest import Lambdas, ProxyEvent, Secrets

pytestmark = pytest.mark.integration


class Calls:
    """Wraps a client and records (IAM action, resource) for each call."""

    def __init__(self, client: Any, service: str, resource: Any) -> None:
        self._client, self._service, self._resource = client, service, resource
        self.made: set[tuple[str, str]] = set()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith("_") or name in {"exceptions", "meta"}:
            return attr
        action = f"{self._service}:" + "".join(p.title() for p in name.split("_"))

        def call(*args: Any, **kwargs: Any) -> Any:
            self.made.add((action, self._resource(kwargs)))
            return attr(*args, **kwargs)

        return call


def _table_resource(kwargs: dict[str, Any]) -> str:
    # the test's tables carry a random prefix; the Terraform names them without one
    table = re.sub(r"^t[0-9a-f]{10}-", "", kwargs["TableName"])
    index = kwargs.get("IndexName")
    return f"table/{table}" + (f"/index/{index}" if index else "")


def _role_grants() -> set[tuple[str, str]]:
    ev = plan()
    iam = ev.child("iam")
    policy = next(p for p in iam.instances("aws_iam_role_policy") if p.name == "read_lambda")
    grants = set()
    for statement in json.loads(policy.get("policy"))["Statement"]:
        for action in statement["Action"]:
            for resource in statement["Resource"]:
                grants.add((action, resource))
    return grants


async def test_the_role_grants_exactly_what_the_code_routes_call(
    lambdas: Lambdas, token_secrets: Secrets, local: GatewayEnv, proxy_event: ProxyEvent
) -> None:
    await local.put_sandbox(make_sandbox(1, SandboxStatus.ALLOCATED, track="owner-1"))
    secrets = Calls(token_secrets.client, "secretsmanager", lambda kw: kw["SecretId"])
    rt = await lambdas.open(secrets=secrets)
    tables = Calls(rt.ddb, "dynamodb", _table_resource)
    rt.ddb = tables  # type: ignore[assignment]  # the app is built on first use, on this client
    events = [
        proxy_event(
            "GET",
            "/v1/sandboxes/sbx-00001",
            headers={"Authorization": f"Bearer {TRACK}", "X-Instruqt-Sandbox-ID": "owner-1"},
        ),
        proxy_event("GET", "/v1/admin/stats", headers={"Authorization": f"Bearer {ADMIN}"}),
        proxy_event(
            "GET",
            "/v1/admin/sandboxes",
            headers={"Authorization": f"Bearer {ADMIN}"},
            query={"limit": "1"},
        ),
        proxy_event(
            "GET",
            "/v1/admin/sandboxes/sbx-00001/history",
            headers={"Authorization": f"Bearer {ADMIN}"},
        ),
    ]
    for event in events:
        answer = await lambdas.invoke(rt, event)
        assert answer["statusCode"] == 200, answer["body"]

    granted = _role_grants()
    a = plan().account
    arn = f"arn:aws:dynamodb:{a.region}:{a.account_id}:"
    made_tables = {(action, arn + res) for action, res in tables.made}
    # Secret ARNs differ between moto and the plan: compare which roles' secrets were read.
    assert {action for action, _ in secrets.made} == {"secretsmanager:GetSecretValue"}
    assert {r for _, r in secrets.made} == set(token_secrets.arns.values())
    table_grants = {(x, r) for x, r in granted if x.startswith("dynamodb:")}
    assert made_tables == table_grants
