"""`sandbox-broker tenants ...` on moto: the --json shapes CONTRACT.md names, one store."""

from __future__ import annotations

import pytest

from consumers.stores.tenants import TenantStore
from schemas.tenants import DEFAULT_CONFIG, tenant_signing_key, verify_signed
from tests.integration.ops.conftest import Stack, run_cli

pytestmark = pytest.mark.integration

SECRET = "cli-signing-secret-0123456789abcdef"


async def test_add_rotate_revoke_set_show_list(stack: Stack, ddb) -> None:
    env = stack.env
    store = TenantStore(ddb, table=stack.settings.names.tenants_table)

    added = await run_cli(
        ["tenants", "add", "acme", "--prefix", "lab-aws", "--max-active", "5", "--json"], env
    )
    assert added.exit_code == 0, added.stderr
    body = added.json()
    assert set(body) == {"tenant", "token_id", "token"} and body["tenant"] == "acme"
    assert (await store.grant(body["token"])) is not None

    again = await run_cli(["tenants", "add", "acme"], env)
    assert again.exit_code == 1 and "exists" in again.stderr

    rotated = (await run_cli(["tenants", "rotate", "acme", "--json"], env)).json()
    assert set(rotated) == {"tenant", "token_id", "token"}
    assert rotated["token"] != body["token"]

    revoked = await run_cli(["tenants", "revoke", "acme", body["token_id"], "--json"], env)
    assert revoked.exit_code == 0, revoked.stderr
    assert await store.grant(body["token"]) is None
    assert await store.grant(rotated["token"]) is not None

    shown = (
        await run_cli(
            ["tenants", "set", "acme", "--unlimited", "--rate-per-min", "60", "--json"], env
        )
    ).json()
    assert shown["max_active"] is None and shown["rate_per_min"] == 60

    show = (await run_cli(["tenants", "show", "acme", "--json"], env)).json()
    assert show["tenant"] == "acme" and show["prefixes"] == ["lab-aws"] and show["active"] == 0
    assert [t["token_id"] for t in show["tokens"]] == [rotated["token_id"]]
    assert body["token"] not in str(show) and rotated["token"] not in str(show)

    listed = (await run_cli(["tenants", "list", "--json"], env)).json()
    assert [t["tenant"] for t in listed] == ["acme"]

    missing = await run_cli(["tenants", "show", "nobody"], env)
    assert missing.exit_code == 1
    bad = await run_cli(["tenants", "add", "Not_Valid"], env)
    assert bad.exit_code == 2


async def test_mint_prints_a_verifiable_signed_token(stack: Stack) -> None:
    env = {**stack.env, "BROKER_TOKEN_SIGNING_SECRET": SECRET}
    await run_cli(["tenants", "add", "acme"], env)
    minted = await run_cli(["tenants", "mint", "acme", "track-7", "--ttl", "2h", "--json"], env)
    assert minted.exit_code == 0, minted.stderr
    body = minted.json()
    assert set(body) == {"tenant", "track_id", "token", "expires_at"}
    claims = verify_signed(body["token"], key=tenant_signing_key(SECRET, "acme", 1))
    assert claims.track_id == "track-7" and claims.exp == body["expires_at"]
    # The default tenant needs no item to mint for.
    default = await run_cli(["tenants", "mint", "default", "t-1", "--json"], env)
    assert default.exit_code == 0, default.stderr
    key = tenant_signing_key(SECRET, "default", DEFAULT_CONFIG.key_version)
    assert verify_signed(default.json()["token"], key=key).tenant == "default"
    # No secret: refused as usage.
    assert (await run_cli(["tenants", "mint", "acme", "t"], stack.env)).exit_code == 2
    assert (await run_cli(["tenants", "mint", "acme", "t", "--ttl", "9w"], env)).exit_code == 2
