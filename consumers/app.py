"""The consumer process: a FastStream app on faststream_sqs, plus its small HTTP side.

Subscribers: ``sandbox-requests.fifo`` (allocate, release) and ``sandbox-jobs.fifo`` (sync,
cleanup, expire, delete_stale, delete_sandbox). HTTP: ``/healthz``, ``/readyz`` (SQS and
DynamoDB reachable, 503 naming the failing one), ``/metrics``, ``/docs/asyncapi``.

How it is put together, in the order things start:

1. ``Consumer.__init__``: the broker and its subscribers (FastStream needs them before it
   starts), metrics (and, with ``BROKER_TRACING`` on, FastStream's telemetry middleware),
   and the ASGI routes.
2. The lifespan opens the DynamoDB client and the CSP's HTTP client and builds the stores
   and services on them (``ConsumerServices``); the handlers exist from here on.
3. The broker connects: it builds the one SQS client of the process, sized for its pollers.
4. After start-up, the periodic work (queue gauges, DLQ sweep, pool gauges) starts on the
   broker's client; it stops before the broker does, so no sample runs on a closed client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

import structlog
from aiobotocore.config import AioConfig
from faststream import BaseMiddleware
from faststream.asgi import AsgiFastStream, AsgiResponse, get, make_asyncapi_asgi, make_ping_asgi
from faststream.specification import AsyncAPI
from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import AfterValidator

from consumers.handlers import ROUTED_TYPES
from consumers.metrics import BrokerMetrics
from consumers.periodic import repeat
from consumers.queue_metrics import QueueSampler
from consumers.services.dead_letters import DeadLetterSweeper
from consumers.services.wiring import ConsumerServices
from consumers.stores.clients import client_config
from consumers.stores.status_index import count_by_status
from faststream_sqs import SQSBroker
from faststream_sqs.message import SQSMessage as SQSMessageClass
from faststream_sqs.opentelemetry import SQSTelemetryMiddleware
from faststream_sqs.prometheus import SQSPrometheusMiddleware
from schemas.messages import DeleteSandboxJob, JobMessage, RequestMessage
from schemas.settings import ConsumerSettings

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

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

#: Seconds between pool gauge samples (one Query COUNT per status: cheap, never a Scan).
POOL_SAMPLE_INTERVAL_S: Final = 30.0
#: Seconds between queue depth samples (four GetQueueAttributes).
QUEUE_SAMPLE_INTERVAL_S: Final = 15.0
#: A readiness probe that cannot tell within this long counts as not ready.
READY_TIMEOUT_S: Final = 3.0


def aws_config(settings: ConsumerSettings) -> AioConfig:
    """Client settings: retries with jittered backoff absorb DynamoDB throttling.

    ``standard`` by default, not ``adaptive``: adaptive's client-side rate limiter cuts the
    whole client's send rate by 30% at every throttled answer, so 16 handlers sharing one
    client all slow to a crawl when a few calls are throttled — 150 allocations with 10% of
    DynamoDB calls throttled took 4.3 to 6.6 s with standard retries and 25 to 26 s with adaptive
    (same machine, alternating runs). Concurrency is bounded by ``max_workers`` anyway.
    """
    return client_config(
        connect_timeout_s=5,
        read_timeout_s=30,
        max_attempts=settings.aws_max_attempts,
        retry_mode=settings.aws_retry_mode,
        max_pool_connections=64,
        # every call is built by the stores: the service validates, the client need not
        parameter_validation=False,
        # one User-Agent for the process, not two rebuilt per call
        fixed_user_agent=True,
    )


#: The message being handled, for the handlers (set by ``_CurrentMessage``).
_CURRENT: ContextVar[SQSMessageClass] = ContextVar("sandbox_broker_message")


class _CurrentMessage(BaseMiddleware):
    """Hands the handlers their message through a context variable.

    Not an ``SQSMessage`` argument: fast_depends resolves a Context argument in a worker
    thread (a task group and a thread hop per message: about a tenth of the consumer's CPU
    in a burst, measured with py-spy).
    """

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        token = _CURRENT.set(msg)
        try:
            return await call_next(msg)
        finally:
            _CURRENT.reset(token)


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


@dataclass(frozen=True, kw_only=True)
class ConsumerHooks:
    """Seams for tests, set by a test's own entry point; production passes none.

    ``after_request`` runs after a request's handler wrote its reply and before the message
    is acknowledged: a fault test holds there to kill a consumer between claim and ack.
    """

    after_request: Callable[[RequestMessage], Awaitable[None]] | None = None


class Consumer:
    """The consumer process's parts and their order of start and stop (module doc)."""

    def __init__(
        self,
        settings: ConsumerSettings,
        *,
        registry: CollectorRegistry | None = None,
        client_config: AioConfig | None = None,
        hooks: ConsumerHooks | None = None,
    ) -> None:
        self.settings = settings
        self.hooks = hooks or ConsumerHooks()
        self.registry = registry or CollectorRegistry()
        self._config = client_config or aws_config(settings)
        # `_created` series per counter are noise for our dashboards
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.metrics = BrokerMetrics(self.registry)
        self.broker = SQSBroker(
            endpoint_url=settings.aws_endpoint_url,
            region_name=settings.aws_region,
            client_config=self._config,
            graceful_timeout=settings.shutdown_timeout_s,
            middlewares=self._middlewares(),
            # FastStream's own lines go through our structlog renderer; its per-message
            # "Received"/"Processed" lines are debug detail (handlers log one line each).
            logger=logging.getLogger("faststream_sqs"),
            log_level=logging.DEBUG,
        )
        self._services: ConsumerServices | None = None
        self._stop_periodic = asyncio.Event()
        self._periodic: list[asyncio.Task[None]] = []
        self._subscribe()

    def _middlewares(self) -> list[Any]:
        """Prometheus always; with tracing on, a CONSUMER span per message (``<queue>
        process``), the child of the sender's span when the message carries its context."""
        middlewares: list[Any] = [SQSPrometheusMiddleware(registry=self.registry), _CurrentMessage]
        if self.settings.tracing != "off":
            # outermost: the span covers the metrics middleware and the handler
            middlewares.insert(0, SQSTelemetryMiddleware())
        return middlewares

    @property
    def services(self) -> ConsumerServices:
        if self._services is None:  # pragma: no cover - the broker starts after the lifespan
            raise RuntimeError("consumer services are not started")
        return self._services

    def _subscribe(self) -> None:
        settings = self.settings
        names = settings.names
        common: dict[str, Any] = {
            "max_workers": settings.max_workers,
            "batch_size": settings.batch_size,
            "wait_time_s": settings.wait_time_s,
            "visibility_timeout_s": settings.visibility_timeout_s,
            # A body that does not validate is never retried: straight to the DLQ.
            "reject": "dlq",
            "on_decode_error": self._on_undecodable,
        }

        @self.broker.subscriber(names.requests_queue, **common)
        async def handle_request(body: RequestBody) -> None:
            msg = _CURRENT.get()
            await self.services.handlers.on_request(body, SqsDelivery(msg))
            if self.hooks.after_request is not None:
                await self.hooks.after_request(body)

        @self.broker.subscriber(names.jobs_queue, **common)
        async def handle_job(body: JobBody) -> None:
            msg = _CURRENT.get()
            await self.services.handlers.on_job(body, SqsDelivery(msg))

    async def _on_undecodable(self, raw: Any, exc: Exception) -> None:
        body = raw.get("Body", "") if isinstance(raw, dict) else raw
        await self.services.handlers.on_undecodable(body, exc)

    async def _publish_deletes(self, jobs: list[DeleteSandboxJob]) -> int:
        """Fan ``cleanup`` out: one ``delete_sandbox`` per sandbox, group ``sandbox:<id>``."""
        result = await self.broker.publish_batch(
            *jobs,
            queue=self.settings.names.jobs_queue,
            message_group_id=lambda job: f"sandbox:{job.sandbox_id}",
            message_deduplication_id=lambda job: job.request_id,
            # one attribute set for the batch: request_id is in each body
            attributes={"type": "delete_sandbox", "schema_version": "1"},
        )
        return len(result.failed)

    # start and stop -----------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Stores and services for as long as the app runs (the broker starts inside)."""
        async with ConsumerServices.open(
            self.settings,
            config=self._config,
            metrics=self.metrics,
            registry=self.registry,
            publish_deletes=self._publish_deletes,
        ) as services:
            self._services = services
            try:
                yield
            finally:
                self._services = None

    async def start_periodic(self) -> None:
        """The waiter pump (v2), queue gauges, DLQ sweep and pool gauges, on the broker's
        (connected) SQS client."""
        sqs: SQSClient = await self.broker.connect()
        settings, names, services = self.settings, self.settings.names, self.services
        dlqs = [names.requests_dlq, names.jobs_dlq]
        stop = self._stop_periodic
        sampler = QueueSampler(
            sqs,
            queues=[names.requests_queue, names.jobs_queue],
            dlqs=dlqs,
            registry=self.registry,
            interval_s=QUEUE_SAMPLE_INTERVAL_S,
        )
        work: list[Awaitable[None]] = [
            services.waiter_pump.run(stop),
            sampler.run(stop),
            repeat(
                self._sample_pool,
                stop,
                interval_s=POOL_SAMPLE_INTERVAL_S,
                failed_event="pool_sampler_failed",
            ),
        ]
        if settings.dlq_sweep_interval_s > 0:
            sweeper = DeadLetterSweeper(
                sqs,
                replies=services.replies,
                factory=services.handlers.factory,
                metrics=self.metrics,
                dlqs=dlqs,
                attempts=settings.max_receive_count,
                interval_s=settings.dlq_sweep_interval_s,
            )
            work.append(sweeper.run(stop))
        self._periodic = [asyncio.ensure_future(w) for w in work]

    async def stop_periodic(self) -> None:
        """Before the broker stops: nothing may still be using its client when it closes."""
        self._stop_periodic.set()
        for task in self._periodic:
            task.cancel()
        for task in self._periodic:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._periodic = []

    async def _sample_pool(self) -> None:
        """One sample of the pool gauges (one Query COUNT per status)."""
        try:
            found = await count_by_status(self.services.ddb, table=self.settings.names.pool_table)
            counts = {s.value: n for s, n in found.items()}
            self.metrics.set_pool(counts)
            log.info("pool_stats", **counts)
        except Exception as exc:  # a missed sample is not worth a crash
            log.warning("pool_sample_failed", error=type(exc).__name__)

    # HTTP side ----------------------------------------------------------------------------

    async def readyz(self, scope: Any) -> AsgiResponse:
        checks: dict[str, str] = {}
        checks["sqs"] = (
            "ok" if await self.broker.ping(timeout=READY_TIMEOUT_S) else "error: unreachable"
        )
        try:
            ddb = self.services.ddb
            await asyncio.wait_for(
                ddb.describe_table(TableName=self.settings.names.pool_table), READY_TIMEOUT_S
            )
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

    async def metrics_page(self, scope: Any) -> AsgiResponse:
        return AsgiResponse(
            generate_latest(self.registry),
            status_code=200,
            headers={"content-type": CONTENT_TYPE_LATEST},
        )

    def asgi(self) -> AsgiFastStream:
        return AsgiFastStream(
            self.broker,
            asgi_routes=[
                ("/healthz", make_ping_asgi(self.broker, timeout=5.0)),
                ("/readyz", get(self.readyz)),
                ("/metrics", get(self.metrics_page)),
                (
                    "/docs/asyncapi",
                    make_asyncapi_asgi(AsyncAPI(self.broker, title="Sandbox Broker consumer")),
                ),
            ],
            lifespan=self.lifespan,
            after_startup=[self.start_periodic],
            on_shutdown=[self.stop_periodic],
        )


def create_app(
    settings: ConsumerSettings,
    *,
    registry: CollectorRegistry | None = None,
    client_config: AioConfig | None = None,
    hooks: ConsumerHooks | None = None,
) -> AsgiFastStream:
    """The consumer's ASGI app (``sandbox-broker consumer`` serves it with uvicorn)."""
    return Consumer(settings, registry=registry, client_config=client_config, hooks=hooks).asgi()
