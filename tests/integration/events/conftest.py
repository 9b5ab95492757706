from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiobotocore.session import get_session

from tests.conftest import MOTO_CLIENT_CONFIG
from tests.integration.consumers.conftest import alloc_env

__all__ = ["alloc_env"]


@pytest.fixture
async def streams(moto_url: str) -> AsyncIterator[object]:
    """The pool table's DynamoDB Streams, read as the stream Lambda's trigger reads them."""
    async with get_session().create_client(
        "dynamodbstreams", endpoint_url=moto_url, region_name="us-east-1", config=MOTO_CLIENT_CONFIG
    ) as client:
        yield client


@pytest.fixture
async def eventbridge(moto_url: str) -> AsyncIterator[object]:
    async with get_session().create_client(
        "events", endpoint_url=moto_url, region_name="us-east-1", config=MOTO_CLIENT_CONFIG
    ) as client:
        yield client
