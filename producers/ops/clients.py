"""aiobotocore clients for the operator CLI: short connect timeout and few attempts.

An operator running a command against a stack that is down wants a one-line answer in a
couple of seconds, not botocore's default 60 s connect timeout times five attempts.
(``infra.aws`` builds the same pair, but producers may not import infra.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from producers.ops.settings import OpsSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient


@dataclass(frozen=True)
class OpsClients:
    sqs: SQSClient
    ddb: DynamoDBClient


def client_config(settings: OpsSettings) -> AioConfig:
    return AioConfig(
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
    )


@asynccontextmanager
async def ops_clients(settings: OpsSettings) -> AsyncIterator[OpsClients]:
    session = get_session()
    config = client_config(settings)
    endpoint, region = settings.aws_endpoint_url, settings.aws_region
    async with AsyncExitStack() as stack:
        sqs = await stack.enter_async_context(
            session.create_client("sqs", endpoint_url=endpoint, region_name=region, config=config)
        )
        ddb = await stack.enter_async_context(
            session.create_client(
                "dynamodb", endpoint_url=endpoint, region_name=region, config=config
            )
        )
        yield OpsClients(sqs=sqs, ddb=ddb)
