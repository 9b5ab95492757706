"""Reply rows (CONTRACT.md "Replies") and the HTTP bodies built from them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.errors import ErrorCode, SandboxError
from schemas.ids import DEFAULT_TENANT, RequestId, SandboxId, TenantName


class ReplyStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ReplyError(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: ErrorCode
    message: str
    retry_after: int | None = None

    @classmethod
    def from_exception(cls, exc: SandboxError) -> ReplyError:
        return cls(code=exc.code, message=exc.message, retry_after=exc.retry_after)


class AllocateResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    sandbox_id: SandboxId
    name: str
    external_id: str
    allocated_at: float
    expires_at: float
    idempotent: bool = False


class ReleaseResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    sandbox_id: SandboxId
    status: str = "pending_deletion"
    idempotent: bool = False


class ExtendResult(BaseModel):
    """v2: the lease's expiry after an extend (capped at ``allocated_at + max_lease_s``)."""

    model_config = ConfigDict(frozen=True)

    sandbox_id: SandboxId
    expires_at: float
    idempotent: bool = False


class JobResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    examined: int = 0
    changed: int = 0
    failed: int = 0


class Reply(BaseModel):
    """What ``GET /v1/requests/{id}`` answers (and the caller-visible part of a reply row)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: RequestId
    action: str
    status: ReplyStatus
    result: dict[str, Any] | None = None
    error: ReplyError | None = None
    completed_at: float | None = None

    @classmethod
    def pending(cls, request_id: str, action: str) -> Reply:
        return cls(request_id=request_id, action=action, status=ReplyStatus.PENDING)

    @property
    def terminal(self) -> bool:
        return self.status is not ReplyStatus.PENDING


class ReplyRecord(Reply):
    """A row of the replies table: the reply plus ownership, attempts and TTL."""

    track_id: str | None = None
    #: The owning track's tenant (v2; a row without it was written for the default tenant).
    tenant: TenantName = DEFAULT_TENANT
    attempts: int = 1
    created_at: float = Field(default=0.0)
    ttl: int | None = None

    def to_reply(self) -> Reply:
        return Reply.model_validate(self.model_dump(include=set(Reply.model_fields)))


class Accepted(BaseModel):
    """202 body of every enqueueing route."""

    request_id: RequestId
    action: str
    status: ReplyStatus = ReplyStatus.PENDING
    poll: str


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str


class ErrorBody(BaseModel):
    """Body of every non-2xx HTTP answer."""

    error: ErrorDetail

    @classmethod
    def of(cls, code: ErrorCode, message: str) -> ErrorBody:
        return cls(error=ErrorDetail(code=code, message=message))
