"""The local stand-in for API Gateway: auth, validation, rate limit, then enqueue or read.

Every route runs the same steps in the same order, the order API Gateway applies them:
auth (401/403) → headers and path ids (400) → rate limit (429, so a 401 or a spoofed header
never spends a track's budget) → body (413/400) → one SQS or DynamoDB call (503 on
failure). The gateway never claims anything: consumers do, and write the reply it reads.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware import Middleware
from ulid import ULID

from producers.gateway.auth import Authenticator, Role
from producers.gateway.context import annotate
from producers.gateway.cursor import Cursor, CursorCodec, CursorError
from producers.gateway.errors import (
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    install_error_handlers,
)
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.middleware import GatewayMiddleware
from producers.gateway.openapi import (
    ADMIN_SECURITY,
    EMPTY_BODY,
    NO_SECURITY,
    PAGE_PARAMS,
    REQUEST_ID_PARAM,
    SANDBOX_ID_PARAM,
    TRACK_HEADERS,
    TRACK_SECURITY,
    UNKNOWN_ACTION,
    HealthBody,
    NotReadyBody,
    ReadyBody,
    ReplyBody,
    accepted_response,
    build_openapi,
    error_responses,
)
from producers.gateway.queues import Enqueuer
from producers.gateway.ratelimit import RateLimiter
from producers.gateway.store import GatewayStore
from producers.gateway.validation import (
    STATUS_ORDER,
    empty_body,
    page_params,
    request_id_param,
    sandbox_id_param,
    track_headers,
)
from schemas.errors import ErrorCode
from schemas.messages import (
    ADMIN_JOBS,
    JOB_MESSAGE,
    AllocateMessage,
    AnyMessage,
    MessageType,
    ReleaseMessage,
)
from schemas.pool import AdminSandboxView, PoolStats, SandboxPage, SandboxView
from schemas.replies import Accepted, ErrorBody, Reply
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
class Gateway:
    """Everything a route needs, built once per app."""

    settings: GatewaySettings
    sqs: SQSClient
    ddb: DynamoDBClient
    auth: Authenticator
    track_limiter: RateLimiter
    admin_limiter: RateLimiter
    enqueuer: Enqueuer
    store: GatewayStore
    cursors: CursorCodec
    metrics: GatewayMetrics

    def limit(self, role: Role, key: str) -> None:
        limiter = self.admin_limiter if role is Role.ADMIN else self.track_limiter
        wait = limiter.acquire(ADMIN_BUDGET if role is Role.ADMIN else key)
        if wait is not None:
            self.metrics.rate_limited.labels(scope=role.value).inc()
            raise RateLimitedError("rate limit exceeded", retry_after=wait)

    async def enqueue(self, message: AnyMessage, *, queue: str, group_id: str) -> JSONResponse:
        await self.enqueuer.send(message, queue=queue, group_id=group_id)
        poll = f"/v1/requests/{message.request_id}"
        body = Accepted(request_id=message.request_id, action=message.type, poll=poll)
        return JSONResponse(
            body.model_dump(mode="json"),
            status_code=202,
            headers={"Location": poll, "Retry-After": str(POLL_AFTER_S)},
        )


def _cursor_codec(settings: GatewaySettings) -> CursorCodec:
    if settings.admin_token is not None and settings.admin_token.get_secret_value():
        return CursorCodec.from_secret(settings.admin_token.get_secret_value())
    # No admin token: every admin route answers 401, so no cursor is ever made or read.
    return CursorCodec(secrets.token_bytes(32))


def _track_routes(gw: Gateway) -> APIRouter:
    router = APIRouter(tags=["track"])
    names = gw.settings.names
    max_body = gw.settings.max_body_bytes

    @router.post(
        "/v1/allocate",
        summary="Ask for this track's sandbox (enqueues `allocate`)",
        status_code=202,
        responses={
            **accepted_response("Enqueued: poll the reply"),
            **error_responses(400, 401, 403, 413, 429, 503),
        },
        openapi_extra={
            "parameters": TRACK_HEADERS,
            "requestBody": EMPTY_BODY,
            "security": TRACK_SECURITY,
        },
    )
    async def allocate(request: Request) -> JSONResponse:
        annotate(request.scope, action="allocate")
        gw.auth.require(request.headers, Role.TRACK)
        headers = track_headers(request.headers)
        annotate(request.scope, track_id=headers.track_id)
        gw.limit(Role.TRACK, headers.track_id)
        await empty_body(request, max_bytes=max_body)
        message = AllocateMessage(
            request_id=new_request_id(),
            track_id=headers.track_id,
            track_name=headers.track_name,
            name_prefix=headers.name_prefix,
            idempotency_key=headers.idempotency_key,
        )
        annotate(request.scope, request_id=message.request_id, outcome="accepted")
        return await gw.enqueue(message, queue=names.requests_queue, group_id=headers.track_id)

    @router.post(
        "/v1/sandboxes/{sandbox_id}/mark-for-deletion",
        summary="Give this track's sandbox back (enqueues `release`)",
        status_code=202,
        responses={
            **accepted_response("Enqueued: poll the reply"),
            **error_responses(400, 401, 403, 404, 413, 429, 503),
        },
        openapi_extra={
            "parameters": [SANDBOX_ID_PARAM, *TRACK_HEADERS],
            "requestBody": EMPTY_BODY,
            "security": TRACK_SECURITY,
        },
    )
    async def mark_for_deletion(request: Request) -> JSONResponse:
        annotate(request.scope, action="release")
        gw.auth.require(request.headers, Role.TRACK)
        headers = track_headers(request.headers)
        annotate(request.scope, track_id=headers.track_id)
        sandbox_id = sandbox_id_param(request.path_params["sandbox_id"])
        gw.limit(Role.TRACK, headers.track_id)
        await empty_body(request, max_bytes=max_body)
        message = ReleaseMessage(
            request_id=new_request_id(),
            track_id=headers.track_id,
            sandbox_id=sandbox_id,
            track_name=headers.track_name,
            idempotency_key=headers.idempotency_key,
        )
        annotate(request.scope, request_id=message.request_id, outcome="accepted")
        return await gw.enqueue(message, queue=names.requests_queue, group_id=headers.track_id)

    @router.get(
        "/v1/requests/{request_id}",
        summary="Read a request's reply (pending until a consumer answers)",
        description=(
            "Always 200 for the owning track (or the admin token). A reply row that does not "
            'exist yet reads as `pending` with `action: "unknown"` and `Retry-After: 1`. '
            "Another track's reply is 404. The admin token needs no track header."
        ),
        response_model=None,
        responses={
            200: {
                "model": ReplyBody,
                "description": "The reply; `Retry-After: 1` while pending",
                "headers": {
                    "Retry-After": {
                        "description": "Present while pending",
                        "schema": {"type": "integer", "minimum": 0},
                    }
                },
            },
            **error_responses(400, 401, 404, 429, 503),
        },
        openapi_extra={
            "parameters": [REQUEST_ID_PARAM, *TRACK_HEADERS],
            "security": [*TRACK_SECURITY, *ADMIN_SECURITY],
        },
    )
    async def get_request(request: Request) -> JSONResponse:
        annotate(request.scope, action="get_reply")
        role = gw.auth.require(request.headers, Role.TRACK, Role.ADMIN)
        track_id: str | None = None
        if role is Role.TRACK:
            track_id = track_headers(request.headers).track_id
            annotate(request.scope, track_id=track_id)
        request_id = request_id_param(request.path_params["request_id"])
        annotate(request.scope, request_id=request_id)
        gw.limit(role, track_id or ADMIN_BUDGET)
        record = await gw.store.reply(request_id)
        if record is None:
            reply = Reply.pending(request_id, UNKNOWN_ACTION)
        elif role is Role.TRACK and record.track_id != track_id:
            raise NotFoundError("no such request")
        else:
            reply = record.to_reply()
        headers = {} if reply.terminal else {"Retry-After": str(POLL_AFTER_S)}
        annotate(request.scope, outcome=reply.status.value)
        return JSONResponse(reply.model_dump(mode="json"), headers=headers)

    @router.get(
        "/v1/sandboxes/{sandbox_id}",
        summary="The owning track reads its sandbox",
        response_model=None,
        responses={
            200: {"model": SandboxView, "description": "The sandbox"},
            **error_responses(400, 401, 403, 404, 429, 503),
        },
        openapi_extra={
            "parameters": [SANDBOX_ID_PARAM, *TRACK_HEADERS],
            "security": TRACK_SECURITY,
        },
    )
    async def get_sandbox(request: Request) -> JSONResponse:
        annotate(request.scope, action="get_sandbox")
        gw.auth.require(request.headers, Role.TRACK)
        track_id = track_headers(request.headers).track_id
        annotate(request.scope, track_id=track_id)
        sandbox_id = sandbox_id_param(request.path_params["sandbox_id"])
        gw.limit(Role.TRACK, track_id)
        sandbox = await gw.store.sandbox(sandbox_id)
        if sandbox is None or sandbox.allocated_to_track != track_id:
            raise NotFoundError("no such sandbox")
        return JSONResponse(SandboxView.of(sandbox).model_dump(mode="json"))

    return router


def _admin_routes(gw: Gateway) -> APIRouter:
    router = APIRouter(tags=["admin"])
    names = gw.settings.names

    @router.get(
        "/v1/admin/stats",
        summary="Pool counts by status (one Query COUNT per status on StatusIndex)",
        response_model=None,
        responses={
            200: {"model": PoolStats, "description": "Counts"},
            **error_responses(401, 403, 429, 503),
        },
        openapi_extra={"security": ADMIN_SECURITY},
    )
    async def stats(request: Request) -> JSONResponse:
        annotate(request.scope, action="stats")
        gw.auth.require(request.headers, Role.ADMIN)
        gw.limit(Role.ADMIN, ADMIN_BUDGET)
        body = PoolStats.of_counts(await gw.store.counts())
        return JSONResponse(body.model_dump(mode="json"))

    @router.get(
        "/v1/admin/sandboxes",
        summary="Page through the pool (StatusIndex Queries, never a Scan)",
        description=(
            "Without `status` the listing walks every status in a fixed order. `next_cursor` "
            "is null on the last page; a cursor is only valid with the same `status`."
        ),
        response_model=None,
        responses={
            200: {"model": SandboxPage, "description": "One page"},
            **error_responses(400, 401, 403, 429, 503),
        },
        openapi_extra={"parameters": PAGE_PARAMS, "security": ADMIN_SECURITY},
    )
    async def list_sandboxes(request: Request) -> JSONResponse:
        annotate(request.scope, action="list_sandboxes")
        gw.auth.require(request.headers, Role.ADMIN)
        params = page_params(request.query_params)
        gw.limit(Role.ADMIN, ADMIN_BUDGET)
        statuses = (params.status,) if params.status else STATUS_ORDER
        status_filter = params.status.value if params.status else None
        cursor = Cursor(status_filter, 0, None)
        if params.cursor is not None:
            try:
                cursor = gw.cursors.decode(
                    params.cursor, status_filter=status_filter, positions=len(statuses)
                )
            except CursorError as exc:
                raise BadRequestError(f"invalid cursor: {exc}") from None
        position, start_key = cursor.position, cursor.start_key
        items: list[AdminSandboxView] = []
        next_cursor: str | None = None
        while True:
            remaining = params.limit - len(items)
            page, last_key = await gw.store.page(
                statuses[position], limit=remaining, start_key=start_key
            )
            items.extend(AdminSandboxView.of(s) for s in page)
            if last_key is not None:  # this status has more (or a 1 MB page ended early)
                if len(items) >= params.limit:
                    next_cursor = gw.cursors.encode(Cursor(status_filter, position, last_key))
                    break
                start_key = last_key
                continue
            position, start_key = position + 1, None
            if position == len(statuses):
                break
            if len(items) >= params.limit:
                next_cursor = gw.cursors.encode(Cursor(status_filter, position, None))
                break
        body = SandboxPage(items=items, next_cursor=next_cursor)
        return JSONResponse(body.model_dump(mode="json"))

    def job_route(slug: str, job: MessageType) -> None:
        @router.post(
            f"/v1/admin/{slug}",
            name=f"admin_{job.value}",
            summary=f"Run the `{job.value}` job now (enqueues it on the jobs queue)",
            status_code=202,
            responses={
                **accepted_response("Enqueued: poll the reply with the admin token"),
                **error_responses(400, 401, 403, 413, 429, 503),
            },
            openapi_extra={"requestBody": EMPTY_BODY, "security": ADMIN_SECURITY},
        )
        async def run_job(request: Request) -> JSONResponse:
            annotate(request.scope, action=job.value)
            gw.auth.require(request.headers, Role.ADMIN)
            gw.limit(Role.ADMIN, ADMIN_BUDGET)
            await empty_body(request, max_bytes=gw.settings.max_body_bytes)
            message = JOB_MESSAGE.validate_python(
                {"type": job.value, "request_id": new_request_id(), "requested_by": "admin"}
            )
            annotate(request.scope, request_id=message.request_id, outcome="accepted")
            return await gw.enqueue(message, queue=names.jobs_queue, group_id=job.value)

    for slug, job in ADMIN_JOBS.items():
        job_route(slug, job)
    return router


def _health_routes(gw: Gateway) -> APIRouter:
    router = APIRouter(tags=["health"])
    names = gw.settings.names
    quiet: dict[str, Any] = {"security": NO_SECURITY}

    @router.get(
        "/healthz",
        summary="Liveness: 200 while the process serves",
        response_model=None,
        responses={200: {"model": HealthBody, "description": "Alive"}},
        openapi_extra=quiet,
    )
    async def healthz() -> JSONResponse:
        return JSONResponse(HealthBody().model_dump())

    @router.get(
        "/readyz",
        summary="Readiness: the requests queue and the replies table answer",
        response_model=None,
        responses={
            200: {"model": ReadyBody, "description": "Ready"},
            503: {"model": NotReadyBody, "description": "A dependency failed; `checks` names it"},
        },
        openapi_extra=quiet,
    )
    async def readyz() -> JSONResponse:
        async def queue() -> None:
            url = await gw.enqueuer.queue_url(names.requests_queue)
            await gw.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])

        async def table() -> None:
            await gw.ddb.describe_table(TableName=names.replies_table)

        probes = {
            f"sqs:{names.requests_queue}": queue(),
            f"dynamodb:{names.replies_table}": table(),
        }
        results = await asyncio.gather(
            *(asyncio.wait_for(p, READY_TIMEOUT_S) for p in probes.values()),
            return_exceptions=True,
        )
        checks = {
            name: "ok" if not isinstance(result, BaseException) else _failure(result)
            for name, result in zip(probes, results, strict=True)
        }
        failed = [name for name, state in checks.items() if state != "ok"]
        if not failed:
            return JSONResponse(ReadyBody(status="ready", checks=checks).model_dump())
        message = "not ready: " + ", ".join(f"{name} ({checks[name]})" for name in failed)
        body = NotReadyBody(
            status="not_ready",
            checks=checks,
            error=ErrorBody.of(ErrorCode.QUEUE_UNAVAILABLE, message).error,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503)

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
        openapi_extra=quiet,
    )
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(
            generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    return router


def _failure(exc: BaseException) -> str:
    """What a failed probe says: the AWS error code when there is one, else the error type."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return f"error: {code}"
    return f"error: {type(exc).__name__}"


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
    app.include_router(_track_routes(gw))
    app.include_router(_admin_routes(gw))
    app.include_router(_health_routes(gw))
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.state.gateway = gw
    return app
