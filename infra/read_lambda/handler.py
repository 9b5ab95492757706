"""The read Lambda: ``producers/gateway/routes/code.py`` behind API Gateway, via Mangum.

API Gateway proxies the routes that need code (``GET /v1/sandboxes/{id}``, ``GET
/v1/admin/stats``, ``GET /v1/admin/sandboxes``, and whatever else is registered in
``code_routes``) to this function as REST (v1) proxy events; Mangum turns each into one
ASGI request to the same FastAPI app the local gateway includes: same middleware, same
auth (``Authenticator``), same validation, same answers.

What lives across invocations (``Runtime``):
- **one event loop.** Mangum runs every request with ``asyncio.get_event_loop()
  .run_until_complete`` (``mangum/protocols/http.py``), so the loop set here at cold start
  is the one every invocation runs on, and the aiobotocore client opened on it stays
  usable: its connection pool is reused, never reopened per request.
- **no ASGI lifespan** (``lifespan="off"``): Mangum runs lifespan startup *and* shutdown
  around every single invocation (``mangum/adapter.py``), which would open and close the
  clients each time. They are opened here instead, once.
- **the tokens**, read from the Secrets Manager ARNs in the environment with the
  authorizer's own ``TokenStore`` (a small cached boto3 read: one GetSecretValue per
  secret per ``BROKER_TOKEN_CACHE_TTL_S``, the last good read kept through a failed
  refresh). The same class and TTL as the authorizer, so a rotated token takes effect in
  both within the same time; no extra dependency (Powertools' parameters utility would do
  the same for one call site). When a refresh brings other values, the app is rebuilt on
  them (its cursor codec is derived from the admin token, as the local gateway's).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Final

import structlog
from mangum import Mangum
from pydantic import SecretStr, ValidationError
from structlog.contextvars import bound_contextvars

from consumers.stores.clients import client_config, dynamodb_client
from infra.authorizer.handler import ADMIN, SIGNING, TRACK, TokenStore
from infra.logging import configure_logging
from producers.gateway.app import create_code_app
from producers.gateway.errors import error_response
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.middleware import GatewayMiddleware
from schemas.errors import ErrorCode
from schemas.settings import GatewaySettings, ReadLambdaSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

log = structlog.get_logger(__name__)

#: A read is a few GetItem / Query calls: a slow DynamoDB must become a prompt 503, well
#: inside the function's timeout (10 s, modules/read_lambda), never a Lambda timeout (which
#: API Gateway answers 502). Two attempts of at most 1 + 3 s each.
CLIENT_CONFIG: Final = client_config(
    connect_timeout_s=1,
    read_timeout_s=3,
    max_attempts=2,
    # stats counts every status at once (one Query each): no call waits for a connection
    max_pool_connections=16,
)


class Runtime:
    """Everything that survives between invocations of one Lambda execution environment."""

    def __init__(self, settings: ReadLambdaSettings, *, secrets: Any) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self._exits = AsyncExitStack()
        self.ddb: DynamoDBClient = self.loop.run_until_complete(
            self._exits.enter_async_context(dynamodb_client(settings, CLIENT_CONFIG))
        )
        arns = {TRACK: settings.track_token_secret_arn, ADMIN: settings.admin_token_secret_arn}
        if settings.token_signing_secret_arn:
            arns[SIGNING] = settings.token_signing_secret_arn
        self.tokens = TokenStore(secrets, secret_arns=arns, ttl_s=settings.token_cache_ttl_s)
        self._built_for: dict[str, bytes] | None = None
        self._adapter: Mangum | None = None

    def _gateway_settings(self, tokens: dict[str, bytes]) -> GatewaySettings:
        s = self.settings
        return GatewaySettings(
            name_prefix=s.name_prefix,
            aws_endpoint_url=s.aws_endpoint_url,
            aws_region=s.aws_region,
            cors_origins=s.cors_origins,
            tenant_cache_ttl_s=s.tenant_cache_ttl_s,
            track_token=SecretStr(tokens.get(TRACK, b"").decode()),
            admin_token=SecretStr(tokens.get(ADMIN, b"").decode()),
            token_signing_secret=(
                SecretStr(tokens[SIGNING].decode()) if tokens.get(SIGNING) else None
            ),
        )

    def adapter(self) -> Mangum:
        """The Mangum adapter on the current tokens; rebuilt when a refresh changed them."""
        try:
            tokens = self.tokens.tokens()
        except Exception as exc:  # no good read yet: nothing to authenticate against
            log.error("tokens_unavailable", outcome="error", error=type(exc).__name__)
            return self._unavailable()
        if self._adapter is None or tokens != self._built_for:
            try:
                settings = self._gateway_settings(tokens)
            except ValidationError:  # weak or equal tokens in Secrets Manager: refuse all
                log.error("tokens_refused", outcome="error", error="weak_or_equal_tokens")
                return self._unavailable()
            app = create_code_app(settings, ddb=self.ddb)
            self._adapter = Mangum(app, lifespan="off")
            self._built_for = tokens
        return self._adapter

    def _unavailable(self) -> Mangum:
        """503 in the contract's body, with the security and CORS headers of every answer."""
        refusal = error_response(
            503, ErrorCode.QUEUE_UNAVAILABLE, "the tokens could not be read; retry later"
        )
        app = GatewayMiddleware(
            refusal, metrics=GatewayMetrics(), cors_origins=self.settings.cors_origins
        )
        return Mangum(app, lifespan="off")

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Mangum runs on the current thread's loop: make sure it is the clients' loop.
        asyncio.set_event_loop(self.loop)
        # The request's log line carries API Gateway's request id, as the access log does
        # (Mangum's task copies this context).
        request_id = (event.get("requestContext") or {}).get("requestId")
        with bound_contextvars(request_id=request_id):
            return self.adapter()(event, context)

    def close(self) -> None:
        """Close the clients and the loop (tests; a Lambda environment just ends)."""
        self.loop.run_until_complete(self._exits.aclose())
        self.loop.close()


_runtime: Runtime | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (``infra.read_lambda.handler.handler``)."""
    global _runtime
    if _runtime is None:
        import boto3  # the cold start's one synchronous client: Secrets Manager

        settings = ReadLambdaSettings()
        configure_logging(settings.log_format, settings.log_level)
        # Mangum logs every request itself; the gateway middleware already writes one line.
        logging.getLogger("mangum").setLevel(logging.WARNING)
        secrets = boto3.client(
            "secretsmanager",
            region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
        )
        _runtime = Runtime(settings, secrets=secrets)
    return _runtime(event, context)
