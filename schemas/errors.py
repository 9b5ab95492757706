"""Error codes of the wire contract (CONTRACT.md) and the domain errors that carry them.

SandboxError                     carries one ErrorCode
├── NoSandboxesAvailableError    NO_SANDBOXES_AVAILABLE (retry_after 30)
├── QuotaExceededError           QUOTA_EXCEEDED (retry_after 30; v2: the tenant's max_active)
├── LeaseLimitReachedError       LEASE_LIMIT_REACHED (v2: extend past max_lease_s)
├── NotSandboxOwnerError         NOT_SANDBOX_OWNER
├── SandboxNotFoundError         SANDBOX_NOT_FOUND
├── InvalidRequestError          INVALID_REQUEST
└── UpstreamUnavailableError     UPSTREAM_UNAVAILABLE
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    """Every code the contract names, HTTP answers and failed replies alike."""

    # HTTP (gateway) answers
    INVALID_REQUEST = "INVALID_REQUEST"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    RATE_LIMITED = "RATE_LIMITED"
    QUEUE_UNAVAILABLE = "QUEUE_UNAVAILABLE"
    # failed replies
    NO_SANDBOXES_AVAILABLE = "NO_SANDBOXES_AVAILABLE"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    LEASE_LIMIT_REACHED = "LEASE_LIMIT_REACHED"
    NOT_SANDBOX_OWNER = "NOT_SANDBOX_OWNER"
    SANDBOX_NOT_FOUND = "SANDBOX_NOT_FOUND"
    DEAD_LETTERED = "DEAD_LETTERED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"


#: Seconds a caller should wait before asking again after an exhausted pool.
NO_SANDBOXES_RETRY_AFTER_S = 30
#: Seconds a caller should wait before asking again after its tenant reached max_active.
QUOTA_RETRY_AFTER_S = 30


class SandboxError(Exception):
    """A business outcome that ends a request in a failed reply (not a handler failure)."""

    code: ClassVar[ErrorCode]
    retry_after: ClassVar[int | None] = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoSandboxesAvailableError(SandboxError):
    code = ErrorCode.NO_SANDBOXES_AVAILABLE
    retry_after = NO_SANDBOXES_RETRY_AFTER_S


class QuotaExceededError(SandboxError):
    code = ErrorCode.QUOTA_EXCEEDED
    retry_after = QUOTA_RETRY_AFTER_S


class LeaseLimitReachedError(SandboxError):
    code = ErrorCode.LEASE_LIMIT_REACHED


class NotSandboxOwnerError(SandboxError):
    code = ErrorCode.NOT_SANDBOX_OWNER


class SandboxNotFoundError(SandboxError):
    code = ErrorCode.SANDBOX_NOT_FOUND


class InvalidRequestError(SandboxError):
    code = ErrorCode.INVALID_REQUEST


class UpstreamUnavailableError(SandboxError):
    code = ErrorCode.UPSTREAM_UNAVAILABLE
