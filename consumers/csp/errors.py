"""What the CSP client raises. Messages never carry the token or a response body.

CspError                     code UPSTREAM_UNAVAILABLE (how a job's failed reply reads)
├── CspUnavailableError      unreachable, timed out, 5xx/429 after retries, or circuit open
│                            (.circuit_open, .status_code, .retry_after)
└── CspResponseError         the CSP answered, but not as its API says: a malformed body, an
                             unexpected status (401 from a wrong token, 400, ...)

They are not ``SandboxError``s on purpose: a CSP failure is a handler failure for
``delete_sandbox`` (retried with backoff), and only the sync job turns it into a failed
reply. Each handler maps it explicitly.
"""

from __future__ import annotations

from typing import ClassVar

from schemas.errors import ErrorCode


class CspError(Exception):
    """Anything the CSP client raises about the CSP."""

    code: ClassVar[ErrorCode] = ErrorCode.UPSTREAM_UNAVAILABLE

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class CspUnavailableError(CspError):
    """The CSP could not be used now; trying later may work.

    ``retry_after`` (seconds) is the CSP's own ``Retry-After`` when it sent one longer than
    the client waits in place, or the rest of the circuit's cool-down when it is open.
    """

    def __init__(
        self,
        message: str,
        *,
        circuit_open: bool = False,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.circuit_open = circuit_open
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, circuit_open={self.circuit_open}, "
            f"status_code={self.status_code}, retry_after={self.retry_after})"
        )


class CspResponseError(CspError):
    """The CSP answered with something its API does not promise; retrying will not help."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code})"
