"""The consumer process: a FastStream app on faststream_sqs, plus its small HTTP side.

Subscribers: ``sandbox-requests.fifo`` (allocate, release) and ``sandbox-jobs.fifo`` (sync,
cleanup, expire, delete_stale, delete_sandbox). HTTP: ``/healthz``, ``/readyz`` (SQS and
DynamoDB reachable, 503 naming the failing one), ``/metrics``, ``/docs/asyncapi``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from faststream.asgi import AsgiFastStream, AsgiResponse, get, make_asyncapi_asgi, make_ping_asgi
from faststream.specification import AsyncAPI
from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import AfterValidator

from consumers.csp.client import CspClient, csp_http_client
from consumers.csp.errors import CspError
from consumers.handlers import ROUTED_TYPES, Handlers
from consumers.metrics import BrokerMetrics
from consumers.periodic import repeat
from consumers.queue_metrics import QueueSampler
from consumers.services.allocation import AllocationService
from consumers.services.dead_letters import DeadLetterSweeper
from consumers.services.jobs import JobService, JobSettings
from consumers.services.replies import ReplyFactory
from consumers.services.reservoir import CandidateReservoir
from consumers.stores.pool import PoolStore
from consumers.stores.replies import ReplyStore
from faststream_sqs import SQSBroker, SQSMessage
from faststream_sqs.message import SQSMessage as SQSMessageClass
from faststream_sqs.prometheus import SQSPrometheusMiddleware
from schemas.messages import DeleteSandboxJob, JobMessage, RequestMessage
from schemas.pool import SandboxStatus
from schemas.settings import ConsumerSettings

log = structlog.get_logger(__name__)

M = TypeVar("M", bound=RequestMessage | JobMessage)


def _routed(message: M) -> M:
    """Refuse, as undecodable, a type of the schemas that no handler serves yet."""
    if message.type not in ROUTED_TYPES:
        raise ValueError(f"this consumer does not handle {message.type!r} messages")
    return message


#: What the subscribers decode: the schemas' unions, less the types not routed yet.
RequestBody = Annotated[RequestMessage, AfterValidator(_routed)]
JobBody = Annotated[JobMessage, AfterValidator(_routed)]


def aws_config(settings: ConsumerSettings) -> AioConfig:
    """Client settings: retries with jittered backoff absorb DynamoDB throttling.

    ``standard`` by default, not ``adaptive``: adaptive's client-side rate limiter cuts the
    whole client's send rate by 30% at every throttled answer, so 16 handlers sharing one
    client all slow to a crawl when a few calls are throttled — 150 allocations with 10% of
    DynamoDB calls throttled took 4.3 to 6.6 s with standard retries and 25 to 26 s with adaptive
    (same machine, alternating runs). Concurrency is bounded by ``max_workers`` anyway.
    """
    return AioConfig(
        retries={"max_attempts": settings.aws_max_attempts, "mode": settings.aws_retry_mode},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=64,
    )


#: Seconds between pool gauge samples (five Query COUNTs each: cheap, never a Scan).
POOL_SAMPLE_INTERVAL_S = 30.0
#: Seconds between queue depth samples (four GetQueueAttributes).
QUEUE_SAMPLE_INTERVAL_S = 15.0


@dataclass
class SqsDelivery:
    """``Delivery`` for handlers, backed by the broker's message."""

    msg: SQSMessageClass

    @property
    def receive_count(self) -> int:
        return self.msg.receive_count

    @property
    def last_receive(self) -> bool:
        """The queue's maxReceiveCount is reached: SQS dead-letters it if this fails."""
        return self.msg.last_receive

    @property
    def message_group(self) -> str | None:
        return self.msg.message_group_id

    async def nack(self, delay_s: float) -> None:
        await self.msg.nack(delay_s=delay_s)


@dataclass
class Runtime:
    """What the lifespan builds (clients, services) for the subscribers to use."""

    handlers: Handlers | None = None
    pool: PoolStore | None = None
    ddb: Any = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def need(self) -> Handlers:
        if self.handlers is None:  # pragma: no cover - the broker starts after the lifespan
            raise RuntimeError("consumer runtime is not started")
        return self.handlers


def create_app(
    settings: ConsumerSettings,
    *,
    registry: CollectorRegistry | None = None,
    client_config: AioConfig | None = None,
) -> AsgiFastStream:
    registry = registry or CollectorRegistry()
    config = client_config or aws_config(settings)
    # `_created` series per counter are noise for our dashboards
    disable_created_metrics()  # type: ignore[no-untyped-call]
    metrics = BrokerMetrics(registry)
    names = settings.names
    broker = SQSBroker(
        endpoint_url=settings.aws_endpoint_url,
        region_name=settings.aws_region,
        client_config=config,
        graceful_timeout=settings.shutdown_timeout_s,
        middlewares=[SQSPrometheusMiddleware(registry=registry)],
        # FastStream's own lines go through our structlog renderer; its per-message
        # "Received"/"Processed" lines are debug detail (handlers log one line each).
        logger=logging.getLogger("faststream_sqs"),
        log_level=logging.DEBUG,
    )
    rt = Runtime()

    async def on_undecodable(raw: Any, exc: Exception) -> None:
        body = raw.get("Body", "") if isinstance(raw, dict) else raw
        await rt.need().on_undecodable(body, exc)

    common: dict[str, Any] = {
        "max_workers": settings.max_workers,
        "batch_size": settings.batch_size,
        "wait_time_s": settings.wait_time_s,
        "visibility_timeout_s": settings.visibility_timeout_s,
        # A body that does not validate is never retried: straight to the DLQ.
        "reject": "dlq",
        "on_decode_error": on_undecodable,
    }

    @broker.subscriber(names.requests_queue, **common)
    async def handle_request(body: RequestBody, msg: SQSMessage) -> None:
        await rt.need().on_request(body, SqsDelivery(msg))
        if settings.test_hold_after_handler_s:
            await asyncio.sleep(settings.test_hold_after_handler_s)

    @broker.subscriber(names.jobs_queue, **common)
    async def handle_job(body: JobBody, msg: SQSMessage) -> None:
        await rt.need().on_job(body, SqsDelivery(msg))

    async def publish_deletes(jobs: list[DeleteSandboxJob]) -> int:
        result = await broker.publish_batch(
            *jobs,
            queue=names.jobs_queue,
            message_group_id=lambda job: f"sandbox:{job.sandbox_id}",
            message_deduplication_id=lambda job: job.request_id,
            # one attribute set for the batch: request_id is in each body
            attributes={"type": "delete_sandbox", "schema_version": "1"},
        )
        return len(result.failed)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        sampler_stop = asyncio.Event()
        async with AsyncExitStack() as stack:
            ddb = await stack.enter_async_context(
                get_session().create_client(
                    "dynamodb",
                    endpoint_url=settings.aws_endpoint_url,
                    region_name=settings.aws_region,
                    config=config,
                )
            )
            http = await stack.enter_async_context(csp_http_client(settings))
            csp = CspClient.from_settings(settings, http=http, registry=registry)
            replies = ReplyStore(ddb, table=names.replies_table)
            pool = PoolStore(ddb, table=names.pool_table, replies=replies)
            factory = ReplyFactory(ttl_s=settings.reply_ttl_s)
            reservoir = CandidateReservoir(
                lambda prefix, limit, start: pool.candidate_page(
                    name_prefix=prefix, limit=limit, start_key=start
                ),
                page_size=settings.candidate_page_size,
            )
            rt.ddb, rt.pool = ddb, pool
            rt.handlers = Handlers(
                allocation=AllocationService(
                    pool,
                    reservoir=reservoir,
                    replies=factory,
                    metrics=metrics,
                    lab_duration_s=settings.lab_duration_s,
                ),
                jobs=JobService(
                    pool,
                    csp=csp,
                    upstream_errors=(CspError,),
                    on_sync=lambda synced, stale: metrics.sync_changed(synced=synced, stale=stale),
                    settings=JobSettings(
                        expiry_after_s=settings.expiry_after_s,
                        stale_grace_s=settings.stale_grace_s,
                        max_deletion_retries=settings.max_deletion_retries,
                        delete_retry_base_s=settings.delete_retry_base_s,
                        failed_retry_base_s=settings.deletion_failed_retry_base_s,
                    ),
                ),
                replies=replies,
                factory=factory,
                metrics=metrics,
                publish_deletes=publish_deletes,
            )
            sqs = await stack.enter_async_context(
                get_session().create_client(
                    "sqs",
                    endpoint_url=settings.aws_endpoint_url,
                    region_name=settings.aws_region,
                    config=config,
                )
            )
            sampler = QueueSampler(
                sqs,
                queues=[names.requests_queue, names.jobs_queue],
                dlqs=[names.requests_dlq, names.jobs_dlq],
                registry=registry,
                interval_s=QUEUE_SAMPLE_INTERVAL_S,
            )
            rt.tasks.append(asyncio.create_task(sampler.run(sampler_stop)))
            if settings.dlq_sweep_interval_s > 0:
                sweeper = DeadLetterSweeper(
                    sqs,
                    replies=replies,
                    factory=factory,
                    metrics=metrics,
                    dlqs=[names.requests_dlq, names.jobs_dlq],
                    attempts=settings.max_receive_count,
                    interval_s=settings.dlq_sweep_interval_s,
                )
                rt.tasks.append(asyncio.create_task(sweeper.run(sampler_stop)))
            rt.tasks.append(
                asyncio.create_task(
                    repeat(
                        lambda: _sample_pool(pool, metrics),
                        sampler_stop,
                        interval_s=POOL_SAMPLE_INTERVAL_S,
                        failed_event="pool_sampler_failed",
                    )
                )
            )
            try:
                yield
            finally:
                sampler_stop.set()
                for task in rt.tasks:
                    task.cancel()
                for task in rt.tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    @get
    async def readyz(scope: Any) -> AsgiResponse:
        checks: dict[str, str] = {}
        checks["sqs"] = "ok" if await broker.ping(timeout=3.0) else "error: unreachable"
        try:
            if rt.ddb is None:
                raise RuntimeError("not started")
            await asyncio.wait_for(rt.ddb.describe_table(TableName=names.pool_table), 3.0)
            checks["dynamodb"] = "ok"
        except Exception as exc:
            checks["dynamodb"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        body = {"status": "ready" if ok else "not_ready", "checks": checks}
        return AsgiResponse(
            json.dumps(body).encode(),
            status_code=200 if ok else 503,
            headers={"content-type": "application/json"},
        )

    @get
    async def metrics_route(scope: Any) -> AsgiResponse:
        return AsgiResponse(
            generate_latest(registry),
            status_code=200,
            headers={"content-type": CONTENT_TYPE_LATEST},
        )

    return AsgiFastStream(
        broker,
        asgi_routes=[
            ("/healthz", make_ping_asgi(broker, timeout=5.0)),
            ("/readyz", readyz),
            ("/metrics", metrics_route),
            (
                "/docs/asyncapi",
                make_asyncapi_asgi(AsyncAPI(broker, title="Sandbox Broker consumer")),
            ),
        ],
        lifespan=lifespan,
    )


async def _sample_pool(pool: PoolStore, metrics: BrokerMetrics) -> None:
    """One sample of the pool gauges (five Query COUNTs)."""
    try:
        counts = {s.value: await pool.count(s) for s in SandboxStatus}
        metrics.set_pool(counts)
        log.info("pool_stats", **counts)
    except Exception as exc:  # a missed sample is not worth a crash
        log.warning("pool_sample_failed", error=type(exc).__name__)
