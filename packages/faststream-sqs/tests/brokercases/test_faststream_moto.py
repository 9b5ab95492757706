"""FastStream's broker-agnostic cases against a real moto server.

Consume and publish run always (~70 s). The router, parser and middleware cases run in
memory always (test_faststream_memory.py) and here only with FASTSTREAM_SQS_ALL_CASES=1
(another ~80 s; they pass).
"""

from __future__ import annotations

import os

import pytest
from faststream_base.consume import BrokerRealConsumeTestcase
from faststream_base.middlewares import MiddlewareTestcase
from faststream_base.parser import CustomParserTestcase
from faststream_base.publish import BrokerPublishTestcase
from faststream_base.router import RouterTestcase
from sqs_base_config import SQSRealConfig

pytestmark = pytest.mark.integration

all_cases = pytest.mark.skipif(
    os.environ.get("FASTSTREAM_SQS_ALL_CASES") != "1",
    reason="run in memory; on moto with FASTSTREAM_SQS_ALL_CASES=1",
)


class TestConsume(SQSRealConfig, BrokerRealConsumeTestcase):
    pass


class TestPublish(SQSRealConfig, BrokerPublishTestcase):
    pass


@all_cases
class TestRouter(SQSRealConfig, RouterTestcase):
    pass


@all_cases
class TestParser(SQSRealConfig, CustomParserTestcase):
    pass


@all_cases
class TestMiddlewares(SQSRealConfig, MiddlewareTestcase):
    pass
