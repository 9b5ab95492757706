"""Acceptance: ownership is (tenant, track_id), through the gateway, on moto.

A track of tenant A cannot read, release or poll a sandbox or reply of tenant B, even when
it sends B's track id; the same track id in two tenants names two tracks.
"""

from __future__ import annotations

import json

import pytest

from schemas.pool import SandboxStatus, lease_marker_key, track_key
from tests.integration.tenants.conftest import TRACK, TenantsEnv

pytestmark = pytest.mark.integration


async def _item(env: TenantsEnv, key: dict[str, str]) -> dict | None:
    resp = await env.ddb.get_item(
        TableName=env.settings.names.pool_table,
        Key={k: {"S": v} for k, v in key.items()},
        ConsistentRead=True,
    )
    return resp.get("Item")


async def test_same_track_id_in_two_tenants_names_two_tracks_that_never_cross(
    tenants_env: TenantsEnv,
) -> None:
    env = tenants_env
    await env.seed(3)
    a = (await env.store.add("acme")).token
    b = (await env.store.add("beta")).token

    got_a = await env.allocate(a, "shared-track")
    got_b = await env.allocate(b, "shared-track")
    assert got_a["status"] == got_b["status"] == "succeeded"
    sbx_a, sbx_b = got_a["result"]["sandbox_id"], got_b["result"]["sandbox_id"]
    assert sbx_a != sbx_b

    # Stored: pool items, pointers and lease markers carry the tenant.
    sandbox_a = await env.pool.get_sandbox(sbx_a)
    assert sandbox_a is not None and sandbox_a.tenant == "acme"
    assert await _item(env, track_key("acme", "shared-track")) is not None
    assert await _item(env, lease_marker_key("beta", "shared-track")) is not None

    # Read: B with A's very track id cannot see A's sandbox (404, as for an unknown id).
    assert (await env.call("GET", f"/v1/sandboxes/{sbx_a}", b, "shared-track")).status_code == 404
    assert (await env.call("GET", f"/v1/sandboxes/{sbx_a}", a, "shared-track")).status_code == 200

    # Release: B's release of A's sandbox is refused, A's sandbox stays allocated.
    resp = await env.call("POST", f"/v1/sandboxes/{sbx_a}/mark-for-deletion", b, "shared-track")
    assert resp.status_code == 202
    await env.pump()
    refused = await env.call("GET", resp.json()["poll"], b, "shared-track")
    assert refused.json()["status"] == "failed"
    assert refused.json()["error"]["code"] in {"NOT_SANDBOX_OWNER", "SANDBOX_NOT_FOUND"}
    after = await env.pool.get_sandbox(sbx_a)
    assert after is not None and after.status is SandboxStatus.ALLOCATED

    # Replies: A's reply polled by B (same track id) is 404; A reads it.
    poll_a = resp.json()["poll"]
    assert (await env.call("GET", poll_a, a, "shared-track")).status_code == 404

    # A releases its own: the pointer and lease marker go with it.
    resp = await env.call("POST", f"/v1/sandboxes/{sbx_a}/mark-for-deletion", a, "shared-track")
    await env.pump()
    assert (await env.call("GET", resp.json()["poll"], a, "shared-track")).json()["status"] == (
        "succeeded"
    )
    assert await _item(env, track_key("acme", "shared-track")) is None
    assert await _item(env, lease_marker_key("acme", "shared-track")) is None


async def test_the_settings_token_is_tenant_default_with_the_v1_keys(
    tenants_env: TenantsEnv,
) -> None:
    env = tenants_env
    await env.seed(2)
    acme = (await env.store.add("acme")).token
    got = await env.allocate(TRACK, "t-1")
    assert got["status"] == "succeeded"
    # The v1 pointer key, so existing tables keep working.
    assert await _item(env, {"PK": "TRACK#t-1", "SK": "CURRENT"}) is not None
    sbx = got["result"]["sandbox_id"]
    assert (await env.call("GET", f"/v1/sandboxes/{sbx}", acme, "t-1")).status_code == 404
    assert (await env.call("GET", f"/v1/sandboxes/{sbx}", TRACK, "t-1")).status_code == 200


async def test_messages_carry_the_callers_tenant(tenants_env: TenantsEnv) -> None:
    env = tenants_env
    acme = (await env.store.add("acme")).token
    resp = await env.call("POST", "/v1/allocate", acme, "t-9")
    assert resp.status_code == 202
    url = (await env.sqs.get_queue_url(QueueName=env.settings.names.requests_queue))["QueueUrl"]
    got = await env.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    assert json.loads(got["Messages"][0]["Body"])["tenant"] == "acme"


async def test_prefixes_403_outside_and_any_of_them_without_the_header(
    tenants_env: TenantsEnv,
) -> None:
    env = tenants_env
    await env.seed(2, prefix="lab-gcp")
    await env.seed(2, prefix="lab-aws", start=10)
    token = (await env.store.add("acme", prefixes=("lab-gcp", "lab-azure"))).token
    outside = await env.call(
        "POST", "/v1/allocate", token, "t-1", **{"X-Sandbox-Name-Prefix": "lab-aws"}
    )
    assert outside.status_code == 403
    assert outside.json()["error"]["code"] == "FORBIDDEN"
    got = await env.allocate(token, "t-1")
    assert got["status"] == "succeeded" and got["result"]["name"].startswith("lab-gcp")
    inside = await env.allocate(token, "t-2", **{"X-Sandbox-Name-Prefix": "lab-gcp-0000"})
    assert inside["status"] == "succeeded"


async def test_wrong_revoked_and_unknown_tokens_are_401(tenants_env: TenantsEnv) -> None:
    env = tenants_env
    issued = await env.store.add("acme")
    assert (await env.call("POST", "/v1/allocate", issued.token + "x", "t")).status_code == 401
    # A tenant token on an admin route: 403, as any track token.
    assert (await env.call("GET", "/v1/admin/stats", issued.token)).status_code == 403


async def test_a_tenants_rate_per_min_bounds_all_its_tracks_together(
    tenants_env: TenantsEnv,
) -> None:
    env = tenants_env
    token = (await env.store.add("acme", rate_per_min=12)).token  # burst: 10 s of it, 2
    codes = [
        (await env.call("POST", "/v1/allocate", token, f"t-{n}")).status_code for n in range(3)
    ]
    assert codes == [202, 202, 429]  # three different tracks, one tenant budget
    other = (await env.store.add("beta")).token
    assert (await env.call("POST", "/v1/allocate", other, "t-0")).status_code == 202
