"""Pool items (CONTRACT.md "Tables": sandbox-pool) and the views the gateway answers with."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from schemas.ids import SandboxId


class SandboxStatus(StrEnum):
    AVAILABLE = "available"
    ALLOCATED = "allocated"
    PENDING_DELETION = "pending_deletion"
    STALE = "stale"
    DELETION_FAILED = "deletion_failed"


#: Key layout of the original table, kept so an existing table can be adopted.
SANDBOX_PK_PREFIX: Final = "SBX#"
SANDBOX_SK: Final = "META"
#: Per-track pointer written in the same transaction as a claim (strongly consistent reads).
TRACK_PK_PREFIX: Final = "TRACK#"
TRACK_SK: Final = "CURRENT"

STATUS_INDEX: Final = "StatusIndex"
TRACK_INDEX: Final = "TrackIndex"
IDEMPOTENCY_INDEX: Final = "IdempotencyIndex"


def sandbox_key(sandbox_id: str) -> dict[str, str]:
    return {"PK": f"{SANDBOX_PK_PREFIX}{sandbox_id}", "SK": SANDBOX_SK}


def track_key(track_id: str) -> dict[str, str]:
    return {"PK": f"{TRACK_PK_PREFIX}{track_id}", "SK": TRACK_SK}


class Sandbox(BaseModel):
    """One pool item; numbers are epoch seconds. ``allocated_at`` is 0 until claimed (GSI key)."""

    model_config = ConfigDict(extra="ignore")

    sandbox_id: SandboxId
    name: str
    external_id: str
    status: SandboxStatus
    allocated_to_track: str | None = None
    track_name: str | None = None
    allocated_at: float = 0
    expires_at: float | None = None
    idempotency_key: str | None = None
    allocated_by_request: str | None = None
    last_synced: float | None = None
    deletion_requested_at: float | None = None
    deletion_retry_count: int = 0
    deletion_last_error: str | None = None
    deletion_next_attempt_at: float | None = None
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


class PoolStats(BaseModel):
    """``GET /v1/admin/stats``: counts by status (per-status Query COUNT, never a Scan)."""

    available: int = 0
    allocated: int = 0
    pending_deletion: int = 0
    stale: int = 0
    deletion_failed: int = 0
    total: int = 0
