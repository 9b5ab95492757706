"""v2 table rules: pointer and lease-marker keys, quarantined, stats, tenant on items and rows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.errors import (
    ErrorCode,
    LeaseLimitReachedError,
    QuotaExceededError,
)
from schemas.ids import HEADER_VALUE_PATTERN, TENANT_NAME_PATTERN
from schemas.items import reply_from_item, reply_item, sandbox_from_item, to_item
from schemas.names import ResourceNames
from schemas.pool import PoolStats, SandboxStatus, TenantUsage, lease_marker_key, track_key
from schemas.replies import ReplyError, ReplyRecord, ReplyStatus

tenants = st.from_regex(TENANT_NAME_PATTERN, fullmatch=True)
track_ids = st.from_regex(HEADER_VALUE_PATTERN, fullmatch=True)


def test_the_default_tenants_pointer_keeps_the_v1_key() -> None:
    assert track_key("default", "lab-1") == {"PK": "TRACK#lab-1", "SK": "CURRENT"}


def test_another_tenants_pointer_names_the_tenant() -> None:
    assert track_key("acme", "lab-1") == {"PK": "TRACK#acme#lab-1", "SK": "CURRENT"}


@given(a=st.tuples(tenants, track_ids), b=st.tuples(tenants, track_ids))
def test_pointer_keys_of_two_different_tracks_never_collide(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    if a != b:
        assert track_key(*a) != track_key(*b)
    else:
        assert track_key(*a) == track_key(*b)


@given(tenant=tenants, track_id=track_ids)
def test_a_lease_marker_lives_in_its_tenants_partition(tenant: str, track_id: str) -> None:
    assert lease_marker_key(tenant, track_id) == {
        "PK": f"ACTIVE#{tenant}",
        "SK": f"TRACK#{track_id}",
    }


@given(a=st.tuples(tenants, track_ids), b=st.tuples(tenants, track_ids))
def test_lease_markers_of_two_different_tracks_never_collide(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    assert (lease_marker_key(*a) == lease_marker_key(*b)) == (a == b)


def test_quarantined_is_a_status() -> None:
    assert SandboxStatus("quarantined") is SandboxStatus.QUARANTINED


def test_stats_count_quarantined_and_default_to_no_tenant_lines() -> None:
    stats = PoolStats()
    assert stats.quarantined == 0
    assert stats.by_tenant == {}
    assert set(stats.model_dump()) == {s.value for s in SandboxStatus} | {"total", "by_tenant"}


def test_stats_by_tenant_is_allocated_and_max_active_per_tenant() -> None:
    stats = PoolStats.model_validate(
        {
            "allocated": 3,
            "by_tenant": {"default": {"allocated": 1}, "acme": {"allocated": 2, "max_active": 5}},
        }
    )
    assert stats.by_tenant["default"] == TenantUsage(allocated=1, max_active=None)
    assert stats.model_dump(mode="json")["by_tenant"]["acme"] == {"allocated": 2, "max_active": 5}


@pytest.mark.parametrize(
    "by_tenant",
    [{"Not A Tenant": {"allocated": 1}}, {"acme": {"allocated": -1}}, {"acme": {"max_active": -1}}],
)
def test_stats_refuse_malformed_tenant_lines(by_tenant: dict[str, dict[str, int]]) -> None:
    with pytest.raises(ValidationError):
        PoolStats.model_validate({"by_tenant": by_tenant})


POOL_ITEM = {
    "PK": "SBX#s-1",
    "SK": "META",
    "sandbox_id": "s-1",
    "name": "lab-1",
    "external_id": "identity/accounts/1",
    "status": "allocated",
    "allocated_to_track": "t-1",
    "allocated_at": 1.5,
}


def test_a_pool_item_without_tenant_reads_as_the_default_tenant() -> None:
    assert sandbox_from_item(to_item(POOL_ITEM)).tenant == "default"


def test_a_pool_item_with_a_tenant_reads_it() -> None:
    assert sandbox_from_item(to_item({**POOL_ITEM, "tenant": "acme"})).tenant == "acme"


def test_a_quarantined_pool_item_reads() -> None:
    assert sandbox_from_item(to_item({**POOL_ITEM, "status": "quarantined"})).status is (
        SandboxStatus.QUARANTINED
    )


def test_a_reply_row_without_tenant_reads_as_the_default_tenant() -> None:
    row = {"request_id": "r", "action": "allocate", "status": "pending", "track_id": "t"}
    assert reply_from_item(to_item(row)).tenant == "default"


def test_a_reply_row_keeps_its_tenant_through_the_codec() -> None:
    record = ReplyRecord(
        request_id="r", action="allocate", status=ReplyStatus.PENDING, track_id="t", tenant="acme"
    )
    assert reply_from_item(reply_item(record)) == record
    assert "tenant" not in record.to_reply().model_dump()  # callers never see it


def test_quota_and_lease_limit_errors_carry_the_contract_codes() -> None:
    quota = ReplyError.from_exception(QuotaExceededError("acme holds 5 of 5"))
    assert (quota.code, quota.retry_after) == (ErrorCode.QUOTA_EXCEEDED, 30)
    lease = ReplyError.from_exception(LeaseLimitReachedError("past max_lease_s"))
    assert (lease.code, lease.retry_after) == (ErrorCode.LEASE_LIMIT_REACHED, None)
    assert ErrorCode("QUOTA_EXCEEDED") is ErrorCode.QUOTA_EXCEEDED
    assert ErrorCode("LEASE_LIMIT_REACHED") is ErrorCode.LEASE_LIMIT_REACHED


def test_v2_tables_are_named_with_the_prefix() -> None:
    names = ResourceNames.with_prefix("stg-")
    assert (names.tenants_table, names.history_table) == (
        "stg-sandbox-tenants",
        "stg-sandbox-history",
    )
    assert (ResourceNames().tenants_table, ResourceNames().history_table) == (
        "sandbox-tenants",
        "sandbox-history",
    )
