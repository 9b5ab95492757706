"""Acceptance: the local gateway and the AWS authorizer read the same tenants store, and a
rotation or revocation takes effect on both within the cache TTL (clocks injected)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from infra.authorizer.handler import UNAUTHORIZED, TenantLookup, TokenStore, authorize
from schemas.tenants import DEFAULT_CONFIG, mint_for
from tests.integration.tenants.conftest import ADMIN, SIGNING, TRACK, TenantsEnv

pytestmark = pytest.mark.integration
ARN = "arn:aws:execute-api:us-east-1:111122223333:abc/live/POST/v1/allocate"


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get_secret_value(self, *, SecretId: str) -> dict[str, str]:
        return {"SecretString": self.values[SecretId]}


class Authorizer:
    """The authorizer's code on the test's tenants table, with the test's clock."""

    def __init__(self, env: TenantsEnv) -> None:
        ddb = boto3.client(
            "dynamodb", endpoint_url=env.settings.aws_endpoint_url, region_name="us-east-1"
        )
        self.tenants = TenantLookup(
            ddb,
            table=env.settings.names.tenants_table,
            ttl_s=env.settings.tenant_cache_ttl_s,
            clock=lambda: env.clock[0],
        )
        self.store = TokenStore(
            Secrets({"t": TRACK, "a": ADMIN, "s": SIGNING}),
            secret_arns={"track": "t", "admin": "a", "signing": "s"},
        )
        self.clock = env.clock

    def context(self, token: str) -> dict[str, Any] | None:
        try:
            answer = authorize(
                {"type": "TOKEN", "methodArn": ARN, "authorizationToken": f"Bearer {token}"},
                self.store,
                usage_keys={},
                tenants=self.tenants,
                clock=lambda: self.clock[0],
            )
        except Exception as exc:
            if str(exc) != UNAUTHORIZED:
                raise
            return None
        context: dict[str, Any] = answer["context"]
        return context


async def _gateway_accepts(env: TenantsEnv, token: str) -> bool:
    resp = await env.call("GET", "/v1/sandboxes/sbx-none", token, "t-1")
    assert resp.status_code in {401, 404}, resp.text
    return resp.status_code == 404  # authenticated, then no such sandbox


async def test_rotation_and_revocation_reach_both_hosts_within_the_ttl(
    tenants_env: TenantsEnv,
) -> None:
    env = tenants_env
    ttl = env.settings.tenant_cache_ttl_s
    aws = Authorizer(env)
    first = await env.store.add("acme", prefixes=("lab-aws", "lab-gcp"))
    assert await _gateway_accepts(env, first.token)
    context = aws.context(first.token)
    assert context == {
        "role": "track",
        "tenant": "acme",
        "track_id": "",
        "prefixes": "lab-aws,lab-gcp",
        "exp": "",
    }

    second = await env.store.rotate("acme")  # overlap: both valid
    assert await _gateway_accepts(env, second.token) and aws.context(second.token) is not None
    assert await _gateway_accepts(env, first.token) and aws.context(first.token) is not None

    await env.store.revoke("acme", first.token_id)
    env.clock[0] += ttl / 2  # still cached on both: at most the TTL
    assert await _gateway_accepts(env, first.token) and aws.context(first.token) is not None
    env.clock[0] += ttl / 2
    assert not await _gateway_accepts(env, first.token)
    assert aws.context(first.token) is None
    assert await _gateway_accepts(env, second.token) and aws.context(second.token) is not None


async def test_the_authorizer_verifies_signed_tokens_like_the_gateway(
    tenants_env: TenantsEnv,
) -> None:
    env = tenants_env
    aws = Authorizer(env)
    await env.store.add("acme")
    config = await env.store.get("acme")
    assert config is not None
    token, exp = mint_for(config, "lab-7", ttl_s=600, secret=SIGNING, now=env.clock[0])
    context = aws.context(token)
    assert context is not None and context["tenant"] == "acme" and context["track_id"] == "lab-7"
    assert context["exp"] == str(exp)  # the templates refuse it past exp (cached answers)
    forged, _ = mint_for(config, "lab-7", ttl_s=600, secret=SIGNING + "x", now=env.clock[0])
    assert aws.context(forged) is None
    default, _ = mint_for(DEFAULT_CONFIG, "lab-8", ttl_s=600, secret=SIGNING, now=env.clock[0])
    assert (aws.context(default) or {}).get("tenant") == "default"
    env.clock[0] = exp
    assert aws.context(token) is None  # expired
    # require_track_tokens: the plain token is refused by both hosts.
    plain = (await env.store.add("strict", require_track_tokens=True)).token
    assert aws.context(plain) is None
    assert not await _gateway_accepts(env, plain)


async def test_the_settings_token_is_the_default_tenant_and_weak_tokens_match_nothing(
    tenants_env: TenantsEnv,
) -> None:
    aws = Authorizer(tenants_env)
    assert (aws.context(TRACK) or {}).get("tenant") == "default"
    weak = TokenStore(Secrets({"t": "*", "a": ADMIN}), secret_arns={"track": "t", "admin": "a"})
    aws.store = weak
    assert aws.context("*") is None
    same = TokenStore(Secrets({"t": ADMIN, "a": ADMIN}), secret_arns={"track": "t", "admin": "a"})
    aws.store = same
    assert aws.context(ADMIN) is None  # equal tokens: both refused
