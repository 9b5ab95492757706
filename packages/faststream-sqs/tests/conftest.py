"""The package's fixtures: one moto server per run (started by the first test that needs it),
an SQS client on it, queues and brokers per test (sqs_moto.py).

No test may reach a real AWS account: the session runs with fake credentials and none of
the developer's AWS_* variables.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from aiobotocore.session import get_session
from sqs_moto import (
    MOTO_CLIENT_CONFIG,
    make_broker,
    make_queue,
    moto_server,
    sqs_client_factory,
)

__all__ = ("make_broker", "make_queue", "sqs_client_factory")


@pytest.fixture(autouse=True, scope="session")
def _hide_developer_aws_env() -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    yield
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture(scope="session")
def moto_url(_hide_developer_aws_env: None) -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
async def sqs(moto_url: str) -> AsyncIterator[object]:
    async with get_session().create_client(
        "sqs", endpoint_url=moto_url, region_name="us-east-1", config=MOTO_CLIENT_CONFIG
    ) as client:
        yield client
