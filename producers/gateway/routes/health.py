"""Health routes: liveness, readiness (SQS and DynamoDB answer) and Prometheus metrics.

They need no token (probes and scrapers have none), so readiness tells an anonymous caller
only which kind of dependency failed (``sqs``, ``dynamodb``) and the AWS error code; the
queue and table names go to the log line and, with the admin token, into the answer.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from producers.gateway.gateway import Gateway
from producers.gateway.openapi import NO_SECURITY, HealthBody, NotReadyBody, ReadyBody
from schemas.errors import ErrorCode
from schemas.replies import ErrorBody

log = structlog.get_logger("producers.gateway")

#: A readiness probe that cannot tell within this long counts as not ready.
READY_TIMEOUT_S: Final = 5.0


def health_routes(gw: Gateway) -> APIRouter:
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
            503: {
                "model": NotReadyBody,
                "description": "A dependency failed; `checks` says which (its name only to "
                "the admin token)",
            },
        },
        openapi_extra=quiet,
    )
    async def readyz(request: Request) -> JSONResponse:
        async def queue() -> None:
            url = await gw.enqueuer.queue_url(names.requests_queue)
            await gw.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])

        async def table() -> None:
            await gw.ddb.describe_table(TableName=names.replies_table)

        probes = {
            ("sqs", f"sqs:{names.requests_queue}"): queue(),
            ("dynamodb", f"dynamodb:{names.replies_table}"): table(),
        }
        results = await asyncio.gather(
            *(asyncio.wait_for(p, READY_TIMEOUT_S) for p in probes.values()),
            return_exceptions=True,
        )
        named = gw.auth.is_admin(request.headers)
        states = {
            key: "ok" if not isinstance(result, BaseException) else _failure(result)
            for key, result in zip(probes, results, strict=True)
        }
        checks = {(full if named else kind): state for (kind, full), state in states.items()}
        failed = [name for name, state in checks.items() if state != "ok"]
        if failed:
            log.warning(
                "not_ready",
                failed=[full for (_, full), state in states.items() if state != "ok"],
                checks={full: state for (_, full), state in states.items()},
            )
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
        page = generate_latest(gw.metrics.registry)
        if gw.federation is not None:  # the embedded stack: the consumers' broker_* too
            page += await gw.federation.text()
        return PlainTextResponse(page, media_type=CONTENT_TYPE_LATEST)

    return router


def _failure(exc: BaseException) -> str:
    """What a failed probe says: the AWS error code when there is one, else the error type."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return f"error: {code}"
    return f"error: {type(exc).__name__}"
