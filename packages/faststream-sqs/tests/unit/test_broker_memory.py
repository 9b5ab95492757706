"""The shared broker cases, in memory under TestSQSBroker."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqs_cases import BrokerCases

from faststream_sqs import SQSBroker, TestSQSBroker


class MemoryEnv:
    subscriber_options: dict[str, Any] = {}
    publish_raises = True

    async def queue(self, *, fifo: bool = False) -> str:
        return f"mem-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else "")

    async def broker(self, **kwargs: Any) -> SQSBroker:
        return SQSBroker(**kwargs)

    def running(self, broker: SQSBroker) -> AbstractAsyncContextManager[SQSBroker]:
        return TestSQSBroker(broker)

    async def wait_until(
        self, predicate: Callable[[], bool] | Callable[[], Awaitable[bool]], timeout: float = 5.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.01)


class TestInMemory(BrokerCases):
    @pytest.fixture
    def env(self) -> MemoryEnv:
        return MemoryEnv()
