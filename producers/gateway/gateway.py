"""What every gateway route shares: settings, clients, auth, limits, the enqueue answer.

``Reads`` is what the code routes need (``routes/code.py``: auth, limits, the table reads,
the cursor codec); the read Lambda builds only that. ``Gateway`` adds the queue side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from fastapi.responses import JSONResponse
from ulid import ULID

from producers.gateway.auth import Authenticator, Role
from producers.gateway.cursor import CursorCodec
from producers.gateway.errors import RateLimitedError
from producers.gateway.federation import Federation
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.queues import Enqueuer
from producers.gateway.ratelimit import RateLimiter
from producers.gateway.store import GatewayStore
from schemas.messages import AnyMessage
from schemas.replies import Accepted
from schemas.settings import GatewaySettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient

#: Advice to plain HTTP clients polling a request (the track client polls sooner).
POLL_AFTER_S: Final = 1
#: A readiness probe that cannot tell within this long counts as not ready.
READY_TIMEOUT_S: Final = 5.0
#: The one rate-limit key of every admin call (admins share a budget, as a usage plan would).
ADMIN_BUDGET: Final = "admin"


def new_request_id() -> str:
    return f"req_{ULID()}"


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
    track_limiter: RateLimiter | None
    admin_limiter: RateLimiter | None
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
