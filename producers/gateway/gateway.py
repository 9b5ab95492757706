"""What every gateway route shares: settings, clients, auth, limits, the enqueue answer.

``Reads`` is what the code routes need (``routes/code.py``: auth, limits, the table reads,
the cursor codec); the read Lambda builds only that. ``Gateway`` adds the queue side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from fastapi.responses import JSONResponse
from ulid import ULID

from producers.gateway.auth import Authenticator, Principal, Role
from producers.gateway.context import annotate
from producers.gateway.cursor import CursorCodec
from producers.gateway.errors import ForbiddenError, RateLimitedError
from producers.gateway.federation import Federation
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.queues import Enqueuer
from producers.gateway.ratelimit import RateLimiter, TenantRateLimiter
from producers.gateway.store import GatewayStore
from producers.gateway.validation import TrackHeaders, track_headers
from schemas.messages import AnyMessage
from schemas.replies import Accepted
from schemas.settings import GatewaySettings
from schemas.tenants import TenantConfig

if TYPE_CHECKING:
    from starlette.requests import Request
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient

    from consumers.stores.tenants import TenantDirectory

#: Advice to plain HTTP clients polling a request (the track client polls sooner).
POLL_AFTER_S: Final = 1
#: A readiness probe that cannot tell within this long counts as not ready.
READY_TIMEOUT_S: Final = 5.0
#: The one rate-limit key of every admin call (admins share a budget, as a usage plan would).
ADMIN_BUDGET: Final = "admin"


def new_request_id() -> str:
    return f"req_{ULID()}"


@dataclass(frozen=True)
class TrackCaller:
    """An authenticated track: its tenant (config), its track id and the track headers.

    Ownership is (tenant, track_id): a message carries ``tenant`` and ``track_id``; a read
    answers only when ``owns(item.tenant, item.track_id)``.
    """

    tenant: TenantConfig
    headers: TrackHeaders

    @property
    def track_id(self) -> str:
        return self.headers.track_id

    @property
    def tenant_name(self) -> str:
        return self.tenant.name

    def owns(self, tenant: str, track_id: str | None) -> bool:
        return tenant == self.tenant.name and track_id == self.headers.track_id


@dataclass(frozen=True)
class Reads:
    """What a read route needs, built once per app (the gateway's, or the read Lambda's).

    A limiter of None counts nothing: the read Lambda runs behind API Gateway, whose WAF
    rules and usage plans have counted the call before it is invoked (a bucket per Lambda
    instance would be a different budget on every instance).
    """

    settings: GatewaySettings
    ddb: DynamoDBClient
    auth: Authenticator
    #: The tenants store behind the auth's cache (admin: mint signed track tokens).
    tenants: TenantDirectory
    track_limiter: RateLimiter | None
    admin_limiter: RateLimiter | None
    #: Each tenant's own budget (its ``rate_per_min``), or None (API Gateway counts it).
    tenant_limiter: TenantRateLimiter | None
    store: GatewayStore
    cursors: CursorCodec
    metrics: GatewayMetrics

    def limit(self, role: Role, key: str) -> None:
        limiter = self.admin_limiter if role is Role.ADMIN else self.track_limiter
        if limiter is None:
            return
        wait = limiter.acquire(ADMIN_BUDGET if role is Role.ADMIN else key)
        if wait is not None:
            self.metrics.rate_limited.labels(scope=role.value).inc()
            raise RateLimitedError("rate limit exceeded", retry_after=wait)

    def limit_track(self, tenant: TenantConfig, track_id: str) -> None:
        """The per-(tenant, track) budget, then the tenant's ``rate_per_min``."""
        self.limit(Role.TRACK, f"{tenant.name}#{track_id}")
        if self.tenant_limiter is None or tenant.rate_per_min is None:
            return
        wait = self.tenant_limiter.acquire(tenant.name, per_min=tenant.rate_per_min)
        if wait is not None:
            self.metrics.rate_limited.labels(scope="tenant").inc()
            raise RateLimitedError("the tenant's rate limit is exceeded", retry_after=wait)

    async def track_caller(self, request: Request) -> TrackCaller:
        """A track route's first steps, in API Gateway's order: auth (401/403), the track
        headers (400), a signed token's binding (403), the rate limits (429)."""
        principal = await self.auth.principal(request.headers, Role.TRACK)
        return self.caller_of(request, principal)

    def caller_of(
        self,
        request: Request,
        principal: Principal,
        *,
        before_limit: Callable[[], object] | None = None,
    ) -> TrackCaller:
        """The track steps after auth, for a route that also admits the admin token.

        ``before_limit`` validates the path ids (400) before the budget is spent, as the
        routes always did: a malformed request never costs a track its rate.
        """
        assert principal.tenant is not None
        headers = track_headers(request.headers)
        annotate(request.scope, track_id=headers.track_id, tenant=principal.tenant.name)
        bound = principal.bound_track_id
        if bound is not None and headers.track_id != bound:
            raise ForbiddenError("the track header differs from the token's track id")
        if before_limit is not None:
            before_limit()
        self.limit_track(principal.tenant, headers.track_id)
        return TrackCaller(principal.tenant, headers)


@dataclass(frozen=True)
class Gateway(Reads):
    """Everything a route of the local gateway needs: the reads plus the queue side."""

    sqs: SQSClient
    enqueuer: Enqueuer
    #: The consumers' broker_* series on /metrics (federation.py), or None.
    federation: Federation | None = None

    async def enqueue(self, message: AnyMessage, *, queue: str, group_id: str) -> JSONResponse:
        await self.enqueuer.send(message, queue=queue, group_id=group_id)
        poll = f"/v1/requests/{message.request_id}"
        body = Accepted(request_id=message.request_id, action=message.type, poll=poll)
        return JSONResponse(
            body.model_dump(mode="json"),
            status_code=202,
            headers={"Location": poll, "Retry-After": str(POLL_AFTER_S)},
        )
