"""One loop for the consumer's background work: run, wait, again, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


async def repeat(
    work: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    *,
    interval_s: float,
    jitter: float = 0.0,
    failed_event: str,
) -> None:
    """Run ``work`` every ``interval_s`` (± ``jitter`` of it) until ``stop`` is set.

    An exception from ``work`` is logged as ``failed_event`` and the loop goes on: a bug in
    a sampler or a sweep must not take the consumer down.
    """
    while not stop.is_set():
        try:
            await work()
        except Exception as exc:
            log.exception(failed_event, error=repr(exc))
        pause = interval_s
        if jitter:
            pause *= random.uniform(1 - jitter, 1 + jitter)  # noqa: S311 - spreading, not security
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=pause)
