"""The local stand-in for API Gateway: auth, validation, rate limit, then enqueue or read.

Every route runs the same steps in the same order, the order API Gateway applies them:
auth (401/403) → headers and path ids (400) → rate limit (429, so a 401 or a spoofed header
never spends a track's budget) → body (413/400) → one SQS or DynamoDB call (503 on
failure). The gateway never claims anything: consumers do, and write the reply it reads.

Routes: ``routes/track.py``, ``routes/admin.py``, ``routes/health.py``, and
``routes/code.py`` (the reads that run in the read Lambda on AWS); what they share:
``gateway.py``. ``create_code_app`` is the read Lambda's app: the same middleware, error
handlers and code routes, nothing else.

With ``BROKER_TRACING`` on, each request is a SERVER span (FastAPI's instrumentation,
health and metrics routes left out), each DynamoDB call a child of it, and an enqueue
a PRODUCER span whose context the message carries to the consumer (``producers/enqueue``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.middleware import Middleware

from consumers.stores.tenants import TenantDirectory, TenantStore
from consumers.stores.tracing import trace_aws_calls
from producers.gateway.auth import Authenticator
from producers.gateway.cursor import CursorCodec
from producers.gateway.errors import install_error_handlers
from producers.gateway.federation import Federation, own_family_names
from producers.gateway.gateway import Gateway, Reads
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.middleware import GatewayMiddleware
from producers.gateway.openapi import build_openapi
from producers.gateway.queues import Enqueuer
from producers.gateway.ratelimit import RateLimiter, TenantRateLimiter
from producers.gateway.routes.admin import admin_routes
from producers.gateway.routes.code import code_routes
from producers.gateway.routes.health import health_routes
from producers.gateway.routes.track import track_routes
from producers.gateway.store import GatewayStore
from schemas.settings import GatewaySettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient


#: Probes and scrapes are not worth a trace each (FastAPI instrumentation's URL patterns).
UNTRACED_PATHS = "/healthz,/readyz,/metrics"


def _cursor_codec(settings: GatewaySettings) -> CursorCodec:
    if settings.admin_token is not None and settings.admin_token.get_secret_value():
        return CursorCodec.from_secret(settings.admin_token.get_secret_value())
    # No admin token: every admin route answers 401, so no cursor is ever made or read.
    return CursorCodec(secrets.token_bytes(32))


def _reads(
    settings: GatewaySettings,
    *,
    ddb: DynamoDBClient,
    metrics: GatewayMetrics,
    clock: Callable[[], float] | None = None,
) -> Reads:
    """``clock`` (tests) replaces the tenant cache's, the token expiry's and the tenant
    budget's clock."""
    names = settings.names
    tenants = TenantDirectory(
        TenantStore(ddb, table=names.tenants_table),
        ttl_s=settings.tenant_cache_ttl_s,
        **({"clock": clock} if clock is not None else {}),
    )
    return Reads(
        settings=settings,
        ddb=ddb,
        tenants=tenants,
        auth=Authenticator(
            track_token=settings.track_token,
            admin_token=settings.admin_token,
            tenants=tenants,
            signing_secret=settings.token_signing_secret,
            **({"clock": clock} if clock is not None else {}),
        ),
        track_limiter=RateLimiter(
            per_min=settings.rate_limit_per_min, burst=settings.rate_limit_burst
        ),
        admin_limiter=RateLimiter(
            per_min=settings.admin_rate_limit_per_min, burst=settings.admin_rate_limit_burst
        ),
        tenant_limiter=TenantRateLimiter(**({"clock": clock} if clock is not None else {})),
        store=GatewayStore(
            ddb,
            pool_table=names.pool_table,
            replies_table=names.replies_table,
            tenants_table=names.tenants_table,
        ),
        cursors=_cursor_codec(settings),
        metrics=metrics,
    )


def _app(settings: GatewaySettings, metrics: GatewayMetrics, *, title: str, docs: bool) -> FastAPI:
    """The FastAPI app both hosts share: middleware (security headers, CORS, the request's
    log line and metrics, the last-resort 500) and the contract's error answers."""
    app = FastAPI(
        title=title,
        version="1",
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        middleware=[
            Middleware(
                GatewayMiddleware,
                metrics=metrics,
                cors_origins=settings.cors_origins,
                max_header_bytes=settings.max_header_bytes,
            )
        ],
    )
    install_error_handlers(app)
    if settings.tracing != "off":
        FastAPIInstrumentor.instrument_app(
            app,
            excluded_urls=UNTRACED_PATHS,
            exclude_spans=["receive", "send"],  # one span per request, not three
            # should someone capture headers (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*),
            # a token is still never in a span
            http_capture_headers_sanitize_fields=[".*authorization.*", ".*token.*", "cookie"],
        )
    return app


def create_app(
    settings: GatewaySettings,
    *,
    sqs: SQSClient,
    ddb: DynamoDBClient,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    """The gateway app on ready aiobotocore clients (the caller owns and closes them);
    ``clock`` is a test hook (tenant cache TTL and signed-token expiry)."""
    metrics = GatewayMetrics()
    if settings.tracing != "off":
        sqs, ddb = trace_aws_calls(sqs), trace_aws_calls(ddb)
    reads = _reads(settings, ddb=ddb, metrics=metrics, clock=clock)
    federation = None
    if settings.metrics_federate_urls:
        federation = Federation(
            settings.metrics_federate_urls, own=own_family_names(metrics.registry)
        )
    gw = Gateway(
        **vars(reads), sqs=sqs, enqueuer=Enqueuer(sqs, metrics=metrics), federation=federation
    )
    app = _app(settings, metrics, title="Sandbox Broker gateway", docs=True)
    app.include_router(track_routes(gw))
    app.include_router(code_routes(gw))
    app.include_router(admin_routes(gw))
    app.include_router(health_routes(gw))
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.state.gateway = gw
    return app


def create_code_app(
    settings: GatewaySettings, *, ddb: DynamoDBClient, clock: Callable[[], float] | None = None
) -> FastAPI:
    """The read Lambda's app: ``code_routes`` alone, on a DynamoDB client the caller owns.

    No rate limiter: API Gateway (WAF rules, usage plans, stage throttling) counts every
    call before it reaches the Lambda. No docs routes: API Gateway does not route them here.
    """
    metrics = GatewayMetrics()
    reads = replace(
        _reads(settings, ddb=ddb, metrics=metrics, clock=clock),
        track_limiter=None,
        admin_limiter=None,
        tenant_limiter=None,
    )
    app = _app(settings, metrics, title="Sandbox Broker read Lambda", docs=False)
    app.include_router(code_routes(reads))
    app.state.gateway = reads
    return app
