"""The stores and services of one consumer process, built on its clients.

The consumer's lifespan opens them (``ConsumerServices.open``) before the broker starts and
closes them after it stopped; handlers reach everything through ``handlers``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from prometheus_client import CollectorRegistry

from consumers.csp.client import CspClient, csp_http_client
from consumers.csp.errors import CspError
from consumers.handlers import Handlers
from consumers.metrics import BrokerMetrics
from consumers.services.allocation import AllocationService
from consumers.services.jobs import JobService, JobSettings
from consumers.services.leases import LeaseService
from consumers.services.operator import OperatorService
from consumers.services.replies import ReplyFactory
from consumers.services.reservoir import CandidateReservoir, CandidateShard
from consumers.services.waiting import WaiterPump
from consumers.stores.clients import dynamodb_client
from consumers.stores.leases import LeaseStore
from consumers.stores.operator import OperatorStore
from consumers.stores.pool import PoolStore
from consumers.stores.replies import ReplyStore
from consumers.stores.tenants import TenantDirectory, TenantStore
from consumers.stores.tracing import trace_aws_calls
from consumers.stores.waiters import WaiterStore
from schemas.messages import DeleteSandboxJob
from schemas.settings import ConsumerSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient


@dataclass(frozen=True, kw_only=True)
class ConsumerServices:
    """What the lifespan builds on the DynamoDB client and the CSP: stores and handlers."""

    ddb: DynamoDBClient
    pool: PoolStore
    replies: ReplyStore
    handlers: Handlers
    #: v2: serves waiting allocations (the app runs it with the periodic work)
    waiter_pump: WaiterPump

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: ConsumerSettings,
        *,
        config: AioConfig,
        metrics: BrokerMetrics,
        registry: CollectorRegistry,
        publish_deletes: Callable[[list[DeleteSandboxJob]], Awaitable[int]],
    ) -> AsyncIterator[ConsumerServices]:
        names = settings.names
        async with AsyncExitStack() as stack:
            ddb = await stack.enter_async_context(dynamodb_client(settings, config))
            if settings.tracing != "off":  # the claim and reply writes as spans
                ddb = trace_aws_calls(ddb)
            http = await stack.enter_async_context(csp_http_client(settings))
            csp = CspClient.from_settings(settings, http=http, registry=registry)
            replies = ReplyStore(ddb, table=names.replies_table)
            pool = PoolStore(ddb, table=names.pool_table, replies=replies)
            reply_factory = ReplyFactory(ttl_s=settings.reply_ttl_s)
            reservoir = CandidateReservoir(
                lambda prefix, limit, start: pool.candidate_page(
                    name_prefix=prefix, limit=limit, start_key=start
                ),
                page_size=settings.candidate_page_size,
                shard=CandidateShard.parse(settings.candidate_shard),
            )
            waiters = WaiterStore(ddb, table=names.pool_table)

            def wake_pump() -> None:  # the pump is built next, on this service
                pump.wake()

            def waiters_ahead() -> bool:
                return pump.waiters_ahead

            allocation = AllocationService(
                pool,
                reservoir=reservoir,
                reply_factory=reply_factory,
                metrics=metrics,
                lab_duration_s=settings.lab_duration_s,
                tenants=TenantDirectory(
                    TenantStore(ddb, table=names.tenants_table),
                    ttl_s=settings.tenant_cache_ttl_s,
                ).config,
                waiters=waiters,
                on_waiter=wake_pump,
                waiters_ahead=waiters_ahead,
            )
            pump = WaiterPump(
                waiters,
                allocation,
                replies=replies,
                reply_factory=reply_factory,
                metrics=metrics,
                interval_s=settings.waiter_interval_s,
            )
            jobs = JobService(
                pool,
                csp=csp,
                upstream_errors=(CspError,),
                on_sync=lambda synced, stale: metrics.sync_changed(synced=synced, stale=stale),
                settings=JobSettings(
                    expiry_after_s=settings.expiry_after_s,
                    expiry_buffer_s=settings.expiry_buffer_s,
                    lab_duration_s=settings.lab_duration_s,
                    stale_grace_s=settings.stale_grace_s,
                    max_deletion_retries=settings.max_deletion_retries,
                    quarantine_after=settings.quarantine_after,
                    delete_retry_base_s=settings.delete_retry_base_s,
                    failed_retry_base_s=settings.deletion_failed_retry_base_s,
                ),
            )
            handlers = Handlers(
                allocation=allocation,
                jobs=jobs,
                replies=replies,
                factory=reply_factory,
                metrics=metrics,
                publish_deletes=publish_deletes,
                after_sync=pump.wake,
                leases=LeaseService(
                    LeaseStore(pool, ddb),
                    reply_factory=reply_factory,
                    metrics=metrics,
                    lab_duration_s=settings.lab_duration_s,
                    extension_s=settings.extension_s,
                    max_lease_s=settings.max_lease_s,
                ),
                operator=OperatorService(OperatorStore(ddb, table=names.pool_table)),
            )
            yield cls(ddb=ddb, pool=pool, replies=replies, handlers=handlers, waiter_pump=pump)
