"""The events process (``sandbox-broker events``): the stream reader on its own clients.

SIGINT/SIGTERM stop it after the batch in hand (its checkpoint then says where to go on).
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack

import httpx
import structlog
from aiobotocore.config import AioConfig

from consumers.events.publish import EventPublisher
from consumers.events.reader import StreamReader
from consumers.stores.clients import dynamodb_client, dynamodb_streams_client
from consumers.stores.history import HistoryStore
from schemas.settings import ConsumerSettings

log = structlog.get_logger(__name__)


async def serve_events(
    settings: ConsumerSettings, *, config: AioConfig, stop: asyncio.Event
) -> None:
    """Read the pool table's stream until ``stop`` is set."""
    async with AsyncExitStack() as stack:
        ddb = await stack.enter_async_context(dynamodb_client(settings, config))
        streams = await stack.enter_async_context(dynamodb_streams_client(settings, config))
        http = None
        if settings.events_webhook_url:
            http = await stack.enter_async_context(httpx.AsyncClient())
        publisher = EventPublisher(webhook_url=settings.events_webhook_url, http=http)
        table = settings.names.pool_table
        reader = StreamReader(
            ddb=ddb,
            streams=streams,
            table=table,
            history=HistoryStore(ddb, table=table, ttl_s=settings.history_ttl_s),
            publish=publisher.publish,
        )
        await reader.run(stop)


def run_events(settings: ConsumerSettings, *, config: AioConfig) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_events(settings, config=config, stop=stop)

    asyncio.run(main())
