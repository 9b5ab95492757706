"""aiobotocore clients for the command-line entry points, built once and passed down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from schemas.settings import CommonSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient

#: Standard retries absorb DynamoDB throttling and SQS hiccups on AWS; short timeouts keep a
#: CLI against an unreachable endpoint from hanging.
CLI_CLIENT_CONFIG = AioConfig(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30
)


@dataclass(frozen=True)
class AwsClients:
    sqs: SQSClient
    ddb: DynamoDBClient


@asynccontextmanager
async def aws_clients(
    settings: CommonSettings, config: AioConfig = CLI_CLIENT_CONFIG
) -> AsyncIterator[AwsClients]:
    session = get_session()
    async with AsyncExitStack() as stack:
        endpoint, region = settings.aws_endpoint_url, settings.aws_region
        sqs = await stack.enter_async_context(
            session.create_client("sqs", endpoint_url=endpoint, region_name=region, config=config)
        )
        ddb = await stack.enter_async_context(
            session.create_client(
                "dynamodb", endpoint_url=endpoint, region_name=region, config=config
            )
        )
        yield AwsClients(sqs=sqs, ddb=ddb)
