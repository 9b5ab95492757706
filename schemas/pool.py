"""Pool items (CONTRACT.md "Tables": sandbox-pool) and the views the gateway answers with."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from schemas.ids import DEFAULT_TENANT, SandboxId, TenantName


class SandboxStatus(StrEnum):
    AVAILABLE = "available"
    ALLOCATED = "allocated"
    PENDING_DELETION = "pending_deletion"
    STALE = "stale"
    DELETION_FAILED = "deletion_failed"
    #: v2: deletion failed ``quarantine_after`` times in a row, or an operator took it out of
    #: service; no automatic retry until an operator acts.
    QUARANTINED = "quarantined"


#: Key layout of the original table, kept so an existing table can be adopted.
SANDBOX_PK_PREFIX: Final = "SBX#"
SANDBOX_SK: Final = "META"
#: Per-track pointer written in the same transaction as a claim (strongly consistent reads).
TRACK_PK_PREFIX: Final = "TRACK#"
TRACK_SK: Final = "CURRENT"
#: Lease markers (v2): one item per (tenant, track) holding a sandbox, written and deleted in
#: the claim / release / expire transactions; a tenant's active count is a COUNT Query on
#: its partition, so no hot counter item serialises a tenant's claims.
ACTIVE_PK_PREFIX: Final = "ACTIVE#"
#: Waiting allocations (v2): one partition, sorted by when they were asked for, so a Query
#: reads them oldest first; the item holds the allocate message and its deadline.
WAIT_PK: Final = "WAIT"
#: Tombstones: when a sandbox the CSP deleted leaves the table, ``DELETED#<id>`` / ``META``
#: records when (``deleted_at``), in the same transaction, so that a sync whose CSP listing
#: began before that moment cannot bring the id back. No ``status``: in no index. Removed by
#: the table's TTL (``ttl``) after ``TOMBSTONE_TTL_S``, far longer than any listing takes.
DELETED_PK_PREFIX: Final = "DELETED#"
TOMBSTONE_TTL_S: Final = 86_400

STATUS_INDEX: Final = "StatusIndex"
TRACK_INDEX: Final = "TrackIndex"
IDEMPOTENCY_INDEX: Final = "IdempotencyIndex"


def sandbox_key(sandbox_id: str) -> dict[str, str]:
    return {"PK": f"{SANDBOX_PK_PREFIX}{sandbox_id}", "SK": SANDBOX_SK}


def tombstone_key(sandbox_id: str) -> dict[str, str]:
    """The tombstone of a sandbox removed after its CSP delete: ``DELETED#<id>`` / ``META``."""
    return {"PK": f"{DELETED_PK_PREFIX}{sandbox_id}", "SK": SANDBOX_SK}


def track_pk(tenant: str, track_id: str) -> str:
    """``TRACK#<track_id>`` for the default tenant (the v1 key, so existing tables keep
    working), ``TRACK#<tenant>#<track_id>`` for any other (``#`` is in neither alphabet)."""
    if tenant == DEFAULT_TENANT:
        return f"{TRACK_PK_PREFIX}{track_id}"
    return f"{TRACK_PK_PREFIX}{tenant}#{track_id}"


def track_key(tenant: str, track_id: str) -> dict[str, str]:
    """The per-track pointer item of (tenant, track_id)."""
    return {"PK": track_pk(tenant, track_id), "SK": TRACK_SK}


def active_pk(tenant: str) -> str:
    """The partition of a tenant's lease markers (``Query Select=COUNT`` counts its leases)."""
    return f"{ACTIVE_PK_PREFIX}{tenant}"


def lease_marker_key(tenant: str, track_id: str) -> dict[str, str]:
    """The lease marker of (tenant, track_id): ``ACTIVE#<tenant>`` / ``TRACK#<track_id>``."""
    return {"PK": active_pk(tenant), "SK": f"{TRACK_PK_PREFIX}{track_id}"}


def waiter_key(requested_at_ms: int, request_id: str) -> dict[str, str]:
    """A waiting allocation: ``WAIT`` / ``<requested_at_ms, 13 digits>#<request_id>`` (the
    zero-padded time sorts as text; the request id breaks ties and keeps it unique)."""
    return {"PK": WAIT_PK, "SK": f"{requested_at_ms:013d}#{request_id}"}


class Sandbox(BaseModel):
    """One pool item; numbers are epoch seconds. ``allocated_at`` is 0 until claimed (GSI key)."""

    model_config = ConfigDict(extra="ignore")

    sandbox_id: SandboxId
    name: str
    external_id: str
    status: SandboxStatus
    allocated_to_track: str | None = None
    #: The owning track's tenant; an item without the attribute (v1, or never allocated)
    #: reads as the default tenant.
    tenant: TenantName = DEFAULT_TENANT
    track_name: str | None = None
    allocated_at: float = 0
    expires_at: float | None = None
    #: v2: the request that last extended this lease, and how many extends it had.
    last_extend_request_id: str | None = None
    extensions: int = 0
    idempotency_key: str | None = None
    allocated_by_request: str | None = None
    last_synced: float | None = None
    deletion_requested_at: float | None = None
    deletion_retry_count: int = 0
    deletion_last_error: str | None = None
    deletion_next_attempt_at: float | None = None
    #: v2 quarantine: why (an operator's reason, or the deletion failures) and since when.
    quarantine_reason: str | None = None
    quarantined_at: float | None = None
    #: v2 operator verbs: the last operator request applied (a redelivered job is idempotent)
    #: and how the last lease ended when an operator forced it (``forced``).
    operator_request: str | None = None
    operator_reason: str | None = None
    lease_end: str | None = None
    stale_since: float | None = None
    sfdc_account_id: str | None = None
    created_at: float | None = None
    updated_at: float | None = None


class SandboxView(BaseModel):
    """``GET /v1/sandboxes/{id}``: what the owning track may see."""

    sandbox_id: SandboxId
    name: str
    external_id: str
    status: SandboxStatus
    allocated_at: float
    expires_at: float | None

    @classmethod
    def of(cls, sandbox: Sandbox) -> SandboxView:
        return cls.model_validate(sandbox.model_dump(include=set(cls.model_fields)))


class AdminSandboxView(SandboxView):
    allocated_to_track: str | None = None

    @classmethod
    def of(cls, sandbox: Sandbox) -> AdminSandboxView:
        return cls.model_validate(sandbox.model_dump(include=set(cls.model_fields)))


class SandboxPage(BaseModel):
    items: list[AdminSandboxView]
    next_cursor: str | None = None


class TenantUsage(BaseModel):
    """One tenant's line of ``by_tenant`` in the stats."""

    allocated: int = Field(0, ge=0)
    max_active: int | None = Field(None, ge=0, description="null: unlimited")


class PoolStats(BaseModel):
    """``GET /v1/admin/stats``: counts by status (per-status Query COUNT, never a Scan)."""

    available: int = 0
    allocated: int = 0
    pending_deletion: int = 0
    stale: int = 0
    deletion_failed: int = 0
    quarantined: int = 0
    total: int = 0
    by_tenant: dict[TenantName, TenantUsage] = Field(default_factory=dict)

    @classmethod
    def of_counts(cls, counts: Mapping[SandboxStatus, int]) -> PoolStats:
        """The stats of per-status counts; ``total`` is their sum."""
        return cls(**{s.value: n for s, n in counts.items()}, total=sum(counts.values()))
