"""FastStream's broker-agnostic cases in memory (TestSQSBroker)."""

from __future__ import annotations

import pytest
from faststream_base.codec import CodecTestcase
from faststream_base.middlewares import (
    ExceptionMiddlewareTestcase,
    LocalMiddlewareTestcase,
    MiddlewaresOrderTestcase,
)
from faststream_base.parser import LocalCustomParserTestcase
from faststream_base.router import RouterLocalTestcase
from faststream_base.testclient import BrokerTestclientTestcase
from sqs_base_config import NO_REQUEST_REPLY, SQSMemoryConfig


class TestTestclient(SQSMemoryConfig, BrokerTestclientTestcase):
    @pytest.mark.xfail(raises=NotImplementedError, strict=True, reason=NO_REQUEST_REPLY)
    async def test_publisher_response_with_model(self, queue: str) -> None:
        await super().test_publisher_response_with_model(queue)


class TestCodec(SQSMemoryConfig, CodecTestcase):
    pass


class TestMiddlewaresOrder(SQSMemoryConfig, MiddlewaresOrderTestcase):
    pass


class TestParser(SQSMemoryConfig, LocalCustomParserTestcase):
    pass


class TestRouterLocal(SQSMemoryConfig, RouterLocalTestcase):
    pass


class TestLocalMiddlewares(SQSMemoryConfig, LocalMiddlewareTestcase):
    pass


class TestExceptionMiddleware(SQSMemoryConfig, ExceptionMiddlewareTestcase):
    pass
