"""The tenants table on moto: tokens only as hashes, rotation with overlap, revocation, cache."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.stores.tenants import (
    TenantDirectory,
    TenantExistsError,
    TenantNotFoundError,
    TenantStore,
    TokenNotFoundError,
)
from schemas.settings import CommonSettings
from schemas.tenants import token_sha256

pytestmark = pytest.mark.integration


@pytest.fixture
def store(provisioned: CommonSettings, ddb: Any) -> TenantStore:
    return TenantStore(ddb, table=provisioned.names.tenants_table)


async def _all_items(ddb: Any, table: str) -> list[dict[str, Any]]:
    return (await ddb.scan(TableName=table))["Items"]  # test inspection only


async def test_add_stores_only_the_hash_and_the_token_resolves(store: TenantStore, ddb) -> None:
    issued = await store.add("acme", prefixes=("lab-aws",), max_active=3, rate_per_min=600)
    assert issued.token.startswith("sbk_") and len(issued.token) >= 24
    raw = repr(await _all_items(ddb, store.table))
    assert issued.token not in raw
    assert token_sha256(issued.token) in raw
    grant = await store.grant(issued.token)
    assert grant is not None and grant.tenant == "acme" and grant.token_id == issued.token_id
    config = await store.get("acme")
    assert config is not None
    assert config.prefixes == ("lab-aws",) and config.max_active == 3
    assert [t.token_id for t in config.tokens] == [issued.token_id]
    assert await store.grant(issued.token + "x") is None


async def test_add_twice_is_refused(store: TenantStore) -> None:
    await store.add("acme")
    with pytest.raises(TenantExistsError):
        await store.add("acme")


async def test_rotate_keeps_the_old_token_until_revoked(store: TenantStore) -> None:
    first = await store.add("acme")
    second = await store.rotate("acme")
    assert (await store.grant(first.token)) is not None
    assert (await store.grant(second.token)) is not None
    await store.revoke("acme", first.token_id)
    assert await store.grant(first.token) is None
    assert (await store.grant(second.token)) is not None
    config = await store.get("acme")
    assert config is not None and [t.token_id for t in config.tokens] == [second.token_id]
    with pytest.raises(TokenNotFoundError):
        await store.revoke("acme", first.token_id)


async def test_unknown_tenant_is_refused_everywhere(store: TenantStore) -> None:
    with pytest.raises(TenantNotFoundError):
        await store.rotate("nobody")
    with pytest.raises(TenantNotFoundError):
        await store.revoke("nobody", "tok_1")
    with pytest.raises(TenantNotFoundError):
        await store.set("nobody", max_active=1)


async def test_set_changes_and_clears_fields_and_list_reads_all(store: TenantStore) -> None:
    await store.add("acme", max_active=2)
    await store.add("beta")
    updated = await store.set("acme", max_active=None, prefixes=("x-", "y-"), rate_per_min=60)
    assert updated.max_active is None
    config = await store.get("acme")
    assert config is not None
    assert config.max_active is None and config.prefixes == ("x-", "y-")
    assert config.rate_per_min == 60
    assert [t.name for t in await store.list()] == ["acme", "beta"]


async def test_directory_caches_hits_and_misses_for_the_ttl(store: TenantStore) -> None:
    now = [1000.0]
    directory = TenantDirectory(store, ttl_s=30, clock=lambda: now[0])
    issued = await store.add("acme")
    assert (await directory.grant(issued.token)) is not None
    await store.revoke("acme", issued.token_id)
    assert (await directory.grant(issued.token)) is not None  # cached
    now[0] += 30
    assert await directory.grant(issued.token) is None  # the TTL has passed
    assert await directory.config("nobody") is None
    await store.add("nobody")
    assert await directory.config("nobody") is None  # a cached miss
    now[0] += 30
    assert await directory.config("nobody") is not None


async def test_a_missing_tenants_table_reads_as_no_tenants(
    provisioned: CommonSettings, ddb
) -> None:
    """An upgraded deployment that has not run `infra provision` yet: tenant default only."""
    store = TenantStore(ddb, table=provisioned.names.tenants_table + "-absent")
    assert await store.get("default") is None
    assert await store.grant("sbk_whatever") is None
    assert await store.list() == []
