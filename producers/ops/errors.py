"""Errors of the operator tools; the CLI turns each into one line and an exit code.

OpsError                          exit 1 unless said otherwise
├── QueueNotFoundError            a queue the settings name does not exist
├── MessageNotFoundError          ``dlq show`` found no such message
└── NativeMoveUnsupportedError    the endpoint has no StartMessageMoveTask (moto)
"""

from __future__ import annotations


class OpsError(Exception):
    """An operation that could not be done; ``str()`` is the one line an operator sees."""


class QueueNotFoundError(OpsError):
    def __init__(self, queue: str) -> None:
        super().__init__(
            f"queue {queue} does not exist (wrong BROKER_NAME_PREFIX, or run "
            "`sandbox-broker infra provision`)"
        )
        self.queue = queue


class MessageNotFoundError(OpsError):
    def __init__(self, ident: str) -> None:
        super().__init__(f"no dead-lettered message with request id or message id {ident}")
        self.ident = ident


class NativeMoveUnsupportedError(OpsError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            f"this endpoint does not support StartMessageMoveTask; run without --native ({detail})"
        )
