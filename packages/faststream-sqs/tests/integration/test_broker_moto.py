"""The shared broker cases, on the moto server over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqs_cases import BrokerCases
from sqs_moto import QueueFactory, running, wait_until

from faststream_sqs import SQSBroker

pytestmark = pytest.mark.integration


class MotoEnv:
    # Short long polls: a test's broker stops within a second of its last message.
    subscriber_options: dict[str, Any] = {"wait_time_s": 1}
    publish_raises = False

    def __init__(self, make_queue: QueueFactory, make_broker: Callable[..., Awaitable[Any]]):
        self._make_queue = make_queue
        self._make_broker = make_broker

    async def queue(self, *, fifo: bool = False) -> str:
        return (await self._make_queue(fifo=fifo)).name

    async def broker(self, **kwargs: Any) -> SQSBroker:
        broker, _ = await self._make_broker(**kwargs)
        return broker

    def running(self, broker: SQSBroker) -> AbstractAsyncContextManager[SQSBroker]:
        return running(broker)

    async def wait_until(
        self, predicate: Callable[[], bool] | Callable[[], Awaitable[bool]], timeout: float = 10.0
    ) -> None:
        await wait_until(predicate, timeout)


class TestOnMoto(BrokerCases):
    @pytest.fixture
    def env(self, make_queue: QueueFactory, make_broker: Callable[..., Awaitable[Any]]) -> MotoEnv:
        return MotoEnv(make_queue, make_broker)
