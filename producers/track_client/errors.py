"""Everything the track client raises.

TrackClientError                  everything this module raises
├── GatewayError                  a non-2xx answer: status_code, code, message, retry_after
├── GatewayUnreachableError       no HTTP answer at all (connection refused, reset, timed out)
├── RequestTimeoutError           no terminal reply within the timeout; carries request_id
└── RequestFailedError            a failed reply: reply, code, message, retry_after
    ├── NoSandboxesAvailableReplyError  NO_SANDBOXES_AVAILABLE (retry_after 30)
    ├── QuotaExceededReplyError         QUOTA_EXCEEDED (retry_after 30; v2)
    ├── LeaseLimitReachedReplyError     LEASE_LIMIT_REACHED (v2: extend past max_lease_s)
    ├── NotSandboxOwnerReplyError       NOT_SANDBOX_OWNER
    ├── SandboxNotFoundReplyError       SANDBOX_NOT_FOUND
    ├── InvalidRequestReplyError        INVALID_REQUEST
    ├── DeadLetteredReplyError          DEAD_LETTERED (an operator may replay it)
    └── UpstreamUnavailableReplyError   UPSTREAM_UNAVAILABLE

The ``...ReplyError`` classes are what a caller sees of a failed reply; the consumers'
business outcomes with the same codes are ``schemas.errors`` (``...Error``).
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from schemas.errors import ErrorCode
from schemas.replies import Reply


def retry_after_of(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after", "")
    return int(value) if value.isascii() and value.isdigit() else None


class TrackClientError(Exception):
    """Base of everything the track client raises."""


class GatewayError(TrackClientError):
    """The gateway answered with an error body (or something that is not one)."""

    def __init__(
        self, status_code: int, code: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> GatewayError:
        code, message = f"HTTP_{response.status_code}", response.reason_phrase
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            pass
        return cls(response.status_code, code, message, retry_after=retry_after_of(response))


class GatewayUnreachableError(TrackClientError):
    """No HTTP answer: the gateway is down, unreachable, or did not answer in time."""


class RequestTimeoutError(TrackClientError):
    """The request was accepted but no terminal reply came within the timeout."""

    def __init__(self, request_id: str, timeout: float) -> None:
        super().__init__(f"no reply to {request_id} within {timeout:g}s")
        self.request_id = request_id
        self.timeout = timeout


class RequestFailedError(TrackClientError):
    """The request ended in a failed reply; ``code`` is the reply's error code."""

    code: ClassVar[ErrorCode | None] = None

    def __init__(self, reply: Reply) -> None:
        error = reply.error
        message = error.message if error else "failed without an error"
        super().__init__(f"{error.code if error else 'FAILED'}: {message}")
        self.reply = reply
        self.request_id = reply.request_id
        self.message = message
        self.retry_after = error.retry_after if error else None
        self.error_code = error.code if error else None

    @classmethod
    def from_reply(cls, reply: Reply) -> RequestFailedError:
        code = reply.error.code if reply.error else None
        for sub in cls.__subclasses__():
            if sub.code is not None and sub.code == code:
                return sub(reply)
        return cls(reply)


class NoSandboxesAvailableReplyError(RequestFailedError):
    code = ErrorCode.NO_SANDBOXES_AVAILABLE


class QuotaExceededReplyError(RequestFailedError):
    code = ErrorCode.QUOTA_EXCEEDED


class LeaseLimitReachedReplyError(RequestFailedError):
    code = ErrorCode.LEASE_LIMIT_REACHED


class NotSandboxOwnerReplyError(RequestFailedError):
    code = ErrorCode.NOT_SANDBOX_OWNER


class SandboxNotFoundReplyError(RequestFailedError):
    code = ErrorCode.SANDBOX_NOT_FOUND


class InvalidRequestReplyError(RequestFailedError):
    code = ErrorCode.INVALID_REQUEST


class DeadLetteredReplyError(RequestFailedError):
    code = ErrorCode.DEAD_LETTERED


class UpstreamUnavailableReplyError(RequestFailedError):
    code = ErrorCode.UPSTREAM_UNAVAILABLE
