"""Shared fixtures: one real moto server per run, aiobotocore clients, per-test resources.

Integration and e2e tests talk to moto over HTTP exactly as production talks to AWS.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from infra.embedded.moto import EmbeddedMoto
from infra.provision import provision
from schemas.settings import CommonSettings

# Retries off against moto: a retried call would hide the very failure a test looks for, and
# moto never throttles on its own (throttling tests inject it explicitly).
MOTO_CLIENT_CONFIG = AioConfig(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture(autouse=True, scope="session")
def _hide_developer_aws_env() -> Iterator[None]:
    """No test may reach a developer's real AWS account: fake credentials, no profile."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "BROKER_"))}
    for key in saved:
        del os.environ[key]
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    yield
    for key in [k for k in os.environ if k.startswith(("AWS_", "BROKER_"))]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture(scope="session")
def moto_url(_hide_developer_aws_env: None) -> Iterator[str]:
    """A real moto server (HTTP on loopback) shared by the whole run."""
    server = EmbeddedMoto().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def sqs(moto_url: str) -> AsyncIterator[object]:
    async with get_session().create_client(
        "sqs", endpoint_url=moto_url, region_name="us-east-1", config=MOTO_CLIENT_CONFIG
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def ddb(moto_url: str) -> AsyncIterator[object]:
    async with get_session().create_client(
        "dynamodb", endpoint_url=moto_url, region_name="us-east-1", config=MOTO_CLIENT_CONFIG
    ) as client:
        yield client


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}-"


@pytest.fixture
async def provisioned(moto_url: str, sqs: object, ddb: object) -> AsyncIterator[CommonSettings]:
    """Queues and tables under a fresh name prefix, deleted after the test."""
    settings = CommonSettings(name_prefix=unique_prefix(), aws_endpoint_url=moto_url)
    await provision(settings, sqs=sqs, ddb=ddb)  # type: ignore[arg-type]
    try:
        yield settings
    finally:
        names = settings.names
        for queue in (names.requests_queue, names.jobs_queue, names.requests_dlq, names.jobs_dlq):
            url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]  # type: ignore[attr-defined]
            await sqs.delete_queue(QueueUrl=url)  # type: ignore[attr-defined]
        for table in (names.pool_table, names.replies_table):
            await ddb.delete_table(TableName=table)  # type: ignore[attr-defined]
