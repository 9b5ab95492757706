"""FastStream's broker-agnostic cases (faststream_base/) run against faststream_sqs.

`SQSMemoryConfig` runs them in memory (TestSQSBroker), `SQSRealConfig` on a moto server
that creates the queues the cases name (they make up fresh names for every test). The
fixtures are the ones FastStream's own tests/conftest.py provides.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from unittest.mock import AsyncMock, MagicMock

import pytest
from sqs_moto import moto_server

from faststream_sqs.testing import FakeSQSProducer


@pytest.fixture
def queue() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def event() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
def event2() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
def event3() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
def mock() -> Iterator[MagicMock]:
    m = MagicMock()
    yield m
    m.reset_mock()


@pytest.fixture
def mock2() -> Iterator[MagicMock]:
    m = MagicMock()
    yield m
    m.reset_mock()


@pytest.fixture
def async_mock() -> Iterator[AsyncMock]:
    m = AsyncMock()
    yield m
    m.reset_mock()


@pytest.fixture
def fake_producer_cls() -> type:
    return FakeSQSProducer


@pytest.fixture(scope="session")
def creating_moto_url(_hide_developer_aws_env: None) -> Iterator[str]:
    with moto_server(create_missing_queues=True) as url:
        yield url
