"""Factory helpers shared by tests: messages and sandboxes with sensible defaults."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

from schemas.messages import AllocateMessage, ReleaseMessage
from schemas.pool import Sandbox, SandboxStatus

_seq = itertools.count(1)


def request_id() -> str:
    return f"req_test{next(_seq):08d}"


def allocate_message(track_id: str = "track-1", **kwargs: object) -> AllocateMessage:
    return AllocateMessage(
        request_id=kwargs.pop("request_id", request_id()),  # type: ignore[arg-type]
        track_id=track_id,
        **kwargs,  # type: ignore[arg-type]
    )


def release_message(track_id: str, sandbox_id: str, **kwargs: object) -> ReleaseMessage:
    return ReleaseMessage(
        request_id=kwargs.pop("request_id", request_id()),  # type: ignore[arg-type]
        track_id=track_id,
        sandbox_id=sandbox_id,
        **kwargs,  # type: ignore[arg-type]
    )


def sandbox(n: int, *, prefix: str = "lab-aws") -> Sandbox:
    return Sandbox(
        sandbox_id=f"sbx-{n:05d}",
        name=f"{prefix}-{n:05d}",
        external_id=f"identity/accounts/00000000-0000-0000-0000-{n:012d}",
        status=SandboxStatus.AVAILABLE,
    )


async def wait_until(
    predicate: Callable[[], Awaitable[bool]] | Callable[[], bool],
    timeout: float = 10.0,
    *,
    interval: float = 0.05,
    what: str = "condition",
) -> None:
    """Poll ``predicate`` until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
