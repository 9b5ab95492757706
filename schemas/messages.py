"""Queue message envelopes (CONTRACT.md "Messages"), discriminated by ``type``.

Readers ignore unknown extra fields so a newer producer can add one without breaking an
older consumer; an unknown ``type`` or a missing required field does not validate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
)

from schemas.ids import (
    DEFAULT_TENANT,
    IdempotencyKey,
    NamePrefix,
    RequestId,
    SandboxId,
    TenantName,
    TrackId,
    TrackName,
)

SCHEMA_VERSION: Final = 1
#: v2 bounds (CONTRACT.md "Lease lifecycle"): X-Wait-For-Sandbox-S and X-Extend-By-S.
MAX_WAIT_FOR_SANDBOX_S: Final = 900
MIN_EXTEND_BY_S: Final = 60
MAX_EXTEND_BY_S: Final = 86_400


class MessageType(StrEnum):
    ALLOCATE = "allocate"
    RELEASE = "release"
    EXTEND = "extend"
    SYNC = "sync"
    CLEANUP = "cleanup"
    EXPIRE = "expire"
    DELETE_STALE = "delete_stale"
    DELETE_SANDBOX = "delete_sandbox"
    RETRY = "retry"
    QUARANTINE = "quarantine"
    FORCE_RELEASE = "force_release"


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: A UTC timestamp on the wire as "2026-11-23T12:00:00.000Z".
Timestamp = Annotated[AwareDatetime, PlainSerializer(_iso_z, return_type=str)]


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    request_id: RequestId
    requested_at: Timestamp = Field(default_factory=utcnow)


class _TrackRequest(_Message):
    """What every track request carries: the track, its tenant and the audit fields."""

    track_id: TrackId
    #: v2: ownership is (tenant, track_id); a message without it is the default tenant's.
    tenant: TenantName = DEFAULT_TENANT
    track_name: TrackName | None = None
    idempotency_key: IdempotencyKey | None = None


class AllocateMessage(_TrackRequest):
    """A track asks for its sandbox (one active sandbox per track_id)."""

    type: Literal["allocate"] = "allocate"
    name_prefix: NamePrefix | None = None
    #: v2: how long to wait for a sandbox when none is available (0: answer at once).
    wait_for_sandbox_s: int = Field(0, ge=0, le=MAX_WAIT_FOR_SANDBOX_S)


class ReleaseMessage(_TrackRequest):
    """A track gives its sandbox back: it becomes pending_deletion."""

    type: Literal["release"] = "release"
    sandbox_id: SandboxId


class ExtendMessage(_TrackRequest):
    """v2: a track extends its lease (never past ``allocated_at + max_lease_s``)."""

    type: Literal["extend"] = "extend"
    sandbox_id: SandboxId
    #: None: the consumer's ``extension_s``.
    extend_by_s: int | None = Field(None, ge=MIN_EXTEND_BY_S, le=MAX_EXTEND_BY_S)


RequestedBy = Literal["scheduler", "admin"]


class _Job(_Message):
    requested_by: RequestedBy = "scheduler"


class SyncJob(_Job):
    type: Literal["sync"] = "sync"


class CleanupJob(_Job):
    type: Literal["cleanup"] = "cleanup"


class ExpireJob(_Job):
    type: Literal["expire"] = "expire"


class DeleteStaleJob(_Job):
    type: Literal["delete_stale"] = "delete_stale"


class DeleteSandboxJob(_Job):
    """One sandbox to delete in the CSP, fanned out by ``cleanup`` (group ``sandbox:<id>``)."""

    type: Literal["delete_sandbox"] = "delete_sandbox"
    sandbox_id: SandboxId


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must be printable characters only (no control characters)")
    return value


#: Why an operator acted (v2): 1-500 printable characters, kept with the sandbox.
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_printable)]
#: The reason of an operator action sent without one (an empty admin route body).
DEFAULT_OPERATOR_REASON: Final = "operator request"


class _OperatorJob(_Message):
    """v2: an operator acts on one sandbox (jobs queue, group ``sandbox:<id>``)."""

    requested_by: Literal["admin"] = "admin"
    sandbox_id: SandboxId
    reason: Reason = DEFAULT_OPERATOR_REASON


class RetryJob(_OperatorJob):
    """quarantined or deletion_failed → pending_deletion (deleted on the next cleanup)."""

    type: Literal["retry"] = "retry"


class QuarantineJob(_OperatorJob):
    """Take a sandbox that is not allocated out of service."""

    type: Literal["quarantine"] = "quarantine"


class ForceReleaseJob(_OperatorJob):
    """Force an allocated sandbox to pending_deletion (a stuck lab)."""

    type: Literal["force_release"] = "force_release"


# The unions, defined once: pydantic reads them discriminated by ``type``; for mypy each is
# the plain union of its classes (``match`` / ``isinstance`` narrow it).
RequestMessage = Annotated[
    AllocateMessage | ReleaseMessage | ExtendMessage, Field(discriminator="type")
]
JobMessage = Annotated[
    SyncJob
    | CleanupJob
    | ExpireJob
    | DeleteStaleJob
    | DeleteSandboxJob
    | RetryJob
    | QuarantineJob
    | ForceReleaseJob,
    Field(discriminator="type"),
]
AnyMessage = Annotated[RequestMessage | JobMessage, Field(discriminator="type")]

REQUEST_MESSAGE: Final[TypeAdapter[RequestMessage]] = TypeAdapter(RequestMessage)
JOB_MESSAGE: Final[TypeAdapter[JobMessage]] = TypeAdapter(JobMessage)
ANY_MESSAGE: Final[TypeAdapter[AnyMessage]] = TypeAdapter(AnyMessage)

#: The admin route slug for each job the admin API may enqueue (``POST /v1/admin/<slug>``).
ADMIN_JOBS: Final[dict[str, MessageType]] = {
    "sync": MessageType.SYNC,
    "cleanup": MessageType.CLEANUP,
    "expire": MessageType.EXPIRE,
    "delete-stale": MessageType.DELETE_STALE,
}
#: v2: the slug of each operator action on one sandbox
#: (``POST /v1/admin/sandboxes/{id}/<slug>``, optional body ``{"reason": "..."}``).
ADMIN_SANDBOX_ACTIONS: Final[dict[str, MessageType]] = {
    "retry": MessageType.RETRY,
    "quarantine": MessageType.QUARANTINE,
    "release": MessageType.FORCE_RELEASE,
}


def message_group_id(message: RequestMessage | JobMessage) -> str:
    """The FIFO MessageGroupId of a message (CONTRACT.md "Queues"): the track id for track
    requests, ``sandbox:<id>`` for jobs about one sandbox, else the job type."""
    if isinstance(message, _TrackRequest):
        return message.track_id
    sandbox_id: str | None = getattr(message, "sandbox_id", None)
    return f"sandbox:{sandbox_id}" if sandbox_id is not None else message.type


def message_attributes(message: _Message, *, type_: str) -> dict[str, str]:
    """SQS message attributes repeating type, schema_version and request_id (for filtering)."""
    return {
        "type": type_,
        "schema_version": str(message.schema_version),
        "request_id": message.request_id,
    }
