"""Queue message envelopes (CONTRACT.md "Messages"), discriminated by ``type``.

Readers ignore unknown extra fields so a newer producer can add one without breaking an
older consumer; an unknown ``type`` or a missing required field does not validate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter

from schemas.ids import IdempotencyKey, NamePrefix, RequestId, SandboxId, TrackId, TrackName

SCHEMA_VERSION: Final = 1


class MessageType(StrEnum):
    ALLOCATE = "allocate"
    RELEASE = "release"
    SYNC = "sync"
    CLEANUP = "cleanup"
    EXPIRE = "expire"
    DELETE_STALE = "delete_stale"
    DELETE_SANDBOX = "delete_sandbox"


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


class AllocateMessage(_Message):
    """A track asks for its sandbox (one active sandbox per track_id)."""

    type: Literal["allocate"] = "allocate"
    track_id: TrackId
    track_name: TrackName | None = None
    name_prefix: NamePrefix | None = None
    idempotency_key: IdempotencyKey | None = None


class ReleaseMessage(_Message):
    """A track gives its sandbox back: it becomes pending_deletion."""

    type: Literal["release"] = "release"
    track_id: TrackId
    sandbox_id: SandboxId
    track_name: TrackName | None = None
    idempotency_key: IdempotencyKey | None = None


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


RequestMessage = Annotated[AllocateMessage | ReleaseMessage, Field(discriminator="type")]
JobMessage = Annotated[
    SyncJob | CleanupJob | ExpireJob | DeleteStaleJob | DeleteSandboxJob,
    Field(discriminator="type"),
]
AnyMessage = Annotated[
    AllocateMessage
    | ReleaseMessage
    | SyncJob
    | CleanupJob
    | ExpireJob
    | DeleteStaleJob
    | DeleteSandboxJob,
    Field(discriminator="type"),
]

REQUEST_MESSAGE: Final[TypeAdapter[AllocateMessage | ReleaseMessage]] = TypeAdapter(RequestMessage)
JOB_MESSAGE: Final[
    TypeAdapter[SyncJob | CleanupJob | ExpireJob | DeleteStaleJob | DeleteSandboxJob]
] = TypeAdapter(JobMessage)
ANY_MESSAGE: Final[
    TypeAdapter[
        AllocateMessage
        | ReleaseMessage
        | SyncJob
        | CleanupJob
        | ExpireJob
        | DeleteStaleJob
        | DeleteSandboxJob
    ]
] = TypeAdapter(AnyMessage)

#: The admin route slug for each job the admin API may enqueue.
ADMIN_JOBS: Final[dict[str, MessageType]] = {
    "sync": MessageType.SYNC,
    "cleanup": MessageType.CLEANUP,
    "expire": MessageType.EXPIRE,
    "delete-stale": MessageType.DELETE_STALE,
}


def message_attributes(message: _Message, *, type_: str) -> dict[str, str]:
    """SQS message attributes repeating type, schema_version and request_id (for filtering)."""
    return {
        "type": type_,
        "schema_version": str(message.schema_version),
        "request_id": message.request_id,
    }
