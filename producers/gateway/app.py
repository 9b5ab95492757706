"""The local stand-in for API Gateway: auth, validation, rate limit, then enqueue or read.

Every route runs the same steps in the same order, the order API Gateway applies them:
auth (401/403) → headers and path ids (400) → rate limit (429, so a 401 or a spoofed header
never spends a track's budget) → body (413/400) → one SQS or DynamoDB call (503 on
failure). The gateway never claims anything: consumers do, and write the reply it reads.

Routes: ``routes/track.py``, ``routes/admin.py``, ``routes/health.py``; what they share:
``gateway.py``.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.middleware import Middleware

from producers.gateway.auth import Authenticator
from producers.gateway.cursor import CursorCodec
from producers.gateway.errors import install_error_handlers
from producers.gateway.gateway import Gateway
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.middleware import GatewayMiddleware
from producers.gateway.openapi import build_openapi
from producers.gateway.queues import Enqueuer
from producers.gateway.ratelimit import RateLimiter
from producers.gateway.routes.admin import admin_routes
from producers.gateway.routes.health import health_routes
from producers.gateway.routes.track import track_routes
from producers.gateway.store import GatewayStore
from schemas.settings import GatewaySettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient


def _cursor_codec(settings: GatewaySettings) -> CursorCodec:
    if settings.admin_token is not None and settings.admin_token.get_secret_value():
        return CursorCodec.from_secret(settings.admin_token.get_secret_value())
    # No admin token: every admin route answers 401, so no cursor is ever made or read.
    return CursorCodec(secrets.token_bytes(32))


def create_app(settings: GatewaySettings, *, sqs: SQSClient, ddb: DynamoDBClient) -> FastAPI:
    """The gateway app on ready aiobotocore clients (the caller owns and closes them)."""
    metrics = GatewayMetrics()
    names = settings.names
    gw = Gateway(
        settings=settings,
        sqs=sqs,
        ddb=ddb,
        auth=Authenticator(track_token=settings.track_token, admin_token=settings.admin_token),
        track_limiter=RateLimiter(
            per_min=settings.rate_limit_per_min, burst=settings.rate_limit_burst
        ),
        admin_limiter=RateLimiter(
            per_min=settings.admin_rate_limit_per_min, burst=settings.admin_rate_limit_burst
        ),
        enqueuer=Enqueuer(sqs, metrics=metrics),
        store=GatewayStore(ddb, pool_table=names.pool_table, replies_table=names.replies_table),
        cursors=_cursor_codec(settings),
        metrics=metrics,
    )
    app = FastAPI(
        title="Sandbox Broker gateway",
        version="1",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        middleware=[
            Middleware(GatewayMiddleware, metrics=metrics, cors_origins=settings.cors_origins)
        ],
    )
    install_error_handlers(app)
    app.include_router(track_routes(gw))
    app.include_router(admin_routes(gw))
    app.include_router(health_routes(gw))
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.state.gateway = gw
    return app
