"""v2 lease history and lease events (CONTRACT.md "Lease lifecycle": History, Events).

Both are derived from the pool table's stream, after the change is durable. An event's
``id`` is deterministic (sha256 of the sandbox, the lease's ``allocated_at`` or the change's
moment, and the kind), so a redelivered change yields the same id and receivers deduplicate
on it. History items live in the pool table under ``PK = HIST#<sandbox_id>``, one per lease
(``SK = LEASE#<allocated_at>``), and expire through the table's TTL.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.ids import DEFAULT_TENANT

#: EventBridge ``source`` of every event (and the webhook body's ``source``).
EVENT_SOURCE: Final = "sandbox-broker"
HISTORY_PK_PREFIX: Final = "HIST#"
LEASE_SK_PREFIX: Final = "LEASE#"


class EventType(StrEnum):
    LEASE_ALLOCATED = "lease.allocated"
    LEASE_EXTENDED = "lease.extended"
    LEASE_RELEASED = "lease.released"
    LEASE_EXPIRED = "lease.expired"
    LEASE_FORCED = "lease.forced"
    SANDBOX_DELETED = "sandbox.deleted"
    SANDBOX_QUARANTINED = "sandbox.quarantined"
    SANDBOX_RETURNED = "sandbox.returned"


LeaseEnd = Literal["released", "expired", "forced"]
#: The event of each way a lease ends.
END_EVENTS: Final[dict[str, EventType]] = {
    "released": EventType.LEASE_RELEASED,
    "expired": EventType.LEASE_EXPIRED,
    "forced": EventType.LEASE_FORCED,
}


def event_id(sandbox_id: str, moment: float, kind: str) -> str:
    """The deterministic id of one change: the same change always gets the same id."""
    return hashlib.sha256(f"{sandbox_id}\x00{moment!r}\x00{kind}".encode()).hexdigest()


def history_key(sandbox_id: str, allocated_at: float) -> dict[str, str]:
    """A lease's history item: sorted by allocated_at (fixed width, so text order is time
    order), newest first when queried backwards."""
    return {
        "PK": f"{HISTORY_PK_PREFIX}{sandbox_id}",
        "SK": f"{LEASE_SK_PREFIX}{allocated_at:020.6f}",
    }


class LeaseEvent(BaseModel):
    """One published change; what the webhook receives as its JSON body and EventBridge
    as ``detail`` (``detail-type`` = ``type``). Lease fields are null on sandbox events."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(description="sha256 hex; the same change always has the same id")
    type: EventType
    source: Literal["sandbox-broker"] = EVENT_SOURCE
    time: float = Field(description="when the change happened (epoch seconds)")
    sandbox_id: str
    name: str | None = None
    tenant: str | None = None
    track_id: str | None = None
    track_name: str | None = None
    allocated_at: float | None = None
    expires_at: float | None = None
    ended_at: float | None = None
    end: LeaseEnd | None = None
    extensions: int | None = None
    reason: str | None = None


class LeaseRecord(BaseModel):
    """One lease in ``GET /v1/admin/sandboxes/{id}/history`` (and ``pool history``)."""

    model_config = ConfigDict(extra="ignore")

    sandbox_id: str
    tenant: str = DEFAULT_TENANT
    track_id: str
    track_name: str | None = None
    allocated_at: float
    expires_at: float | None = None
    ended_at: float | None = None
    end: LeaseEnd | None = None
    extensions: int = 0


class HistoryPage(BaseModel):
    items: list[LeaseRecord]
    next_cursor: str | None = None
