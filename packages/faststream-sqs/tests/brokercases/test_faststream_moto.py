"""FastStream's broker-agnostic cases against a real moto server."""

from __future__ import annotations

import pytest
from faststream_base.consume import BrokerRealConsumeTestcase
from faststream_base.middlewares import MiddlewareTestcase
from faststream_base.parser import CustomParserTestcase
from faststream_base.publish import BrokerPublishTestcase
from faststream_base.router import RouterTestcase
from sqs_base_config import SQSRealConfig

pytestmark = pytest.mark.integration


class TestConsume(SQSRealConfig, BrokerRealConsumeTestcase):
    pass


class TestPublish(SQSRealConfig, BrokerPublishTestcase):
    pass


class TestRouter(SQSRealConfig, RouterTestcase):
    pass


class TestParser(SQSRealConfig, CustomParserTestcase):
    pass


class TestMiddlewares(SQSRealConfig, MiddlewareTestcase):
    pass
