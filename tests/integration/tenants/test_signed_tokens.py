"""Acceptance: signed track tokens (sbt1) through the gateway on moto.

Minted by the admin route; the track header must equal the token's track id (403), an
expired one is 401, and a tenant with require_track_tokens accepts nothing else.
"""

from __future__ import annotations

import pytest

from tests.integration.tenants.conftest import ADMIN, TenantsEnv

pytestmark = pytest.mark.integration


async def _mint(env: TenantsEnv, tenant: str, track_id: str, ttl_s: int = 3600) -> dict:
    resp = await env.client.post(
        f"/v1/admin/tenants/{tenant}/track-tokens",
        json={"track_id": track_id, "ttl_s": ttl_s},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert resp.status_code == 201, resp.text
    body: dict = resp.json()
    return body


async def test_a_signed_token_binds_its_track_id_and_expires(tenants_env: TenantsEnv) -> None:
    env = tenants_env
    await env.seed(1)
    await env.store.add("acme")
    minted = await _mint(env, "acme", "lab-42", ttl_s=600)
    assert set(minted) == {"tenant", "track_id", "token", "expires_at"}
    token = minted["token"]
    assert token.startswith("sbt1.")

    other = await env.call("POST", "/v1/allocate", token, "lab-43")
    assert other.status_code == 403 and other.json()["error"]["code"] == "FORBIDDEN"
    got = await env.allocate(token, "lab-42")
    assert got["status"] == "succeeded"
    # Another track's sandbox read with this token: 403 (header) before anything is read.
    sbx = got["result"]["sandbox_id"]
    assert (await env.call("GET", f"/v1/sandboxes/{sbx}", token, "lab-43")).status_code == 403
    assert (await env.call("GET", f"/v1/sandboxes/{sbx}", token, "lab-42")).status_code == 200

    env.clock[0] = minted["expires_at"]  # the moment it expires
    expired = await env.call("GET", f"/v1/sandboxes/{sbx}", token, "lab-42")
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "UNAUTHORIZED"


async def test_tampered_and_other_tenants_signatures_are_401(tenants_env: TenantsEnv) -> None:
    env = tenants_env
    await env.store.add("acme")
    await env.store.add("beta")
    token = (await _mint(env, "acme", "lab-1"))["token"]
    payload, signature = token.removeprefix("sbt1.").split(".")
    beta_sig = (await _mint(env, "beta", "lab-1"))["token"].split(".")[2]
    for forged in (
        f"sbt1.{payload}.{beta_sig}",
        f"sbt1.{payload}x.{signature}",
        f"sbt1.{payload}",
        "sbt1." + "A" * 40,
    ):
        assert (await env.call("POST", "/v1/allocate", forged, "lab-1")).status_code == 401


async def test_require_track_tokens_refuses_the_tenants_plain_tokens(
    tenants_env: TenantsEnv,
) -> None:
    env = tenants_env
    plain = (await env.store.add("acme", require_track_tokens=True)).token
    assert (await env.call("POST", "/v1/allocate", plain, "lab-1")).status_code == 401
    signed = (await _mint(env, "acme", "lab-1"))["token"]
    assert (await env.call("POST", "/v1/allocate", signed, "lab-1")).status_code == 202


async def test_mint_route_refusals(tenants_env: TenantsEnv) -> None:
    env = tenants_env
    admin = {"Authorization": f"Bearer {ADMIN}"}
    await env.store.add("acme")
    path = "/v1/admin/tenants/acme/track-tokens"
    assert (
        await env.client.post(
            "/v1/admin/tenants/nobody/track-tokens", json={"track_id": "t"}, headers=admin
        )
    ).status_code == 404
    for body in ({}, {"track_id": "a b"}, {"track_id": "t", "ttl_s": 1}, {"track_id": "t", "x": 1}):
        assert (await env.client.post(path, json=body, headers=admin)).status_code == 400
    deep = "[" * 16_000
    assert (await env.client.post(path, content=deep, headers=admin)).status_code in {400, 413}
    plain = (await env.store.rotate("acme")).token
    track = {"Authorization": f"Bearer {plain}"}
    assert (await env.client.post(path, json={"track_id": "t"}, headers=track)).status_code == 403
