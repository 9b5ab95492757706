"""Routes that need code on AWS: one implementation, two hosts.

Most routes are one SQS or DynamoDB call that API Gateway makes itself through a mapping
template (``infra/apigw/*.vtl``). The routes here read several items, page with a signed
cursor or check ownership in code, so on AWS they run in the read Lambda
(``infra/read_lambda/``), which serves exactly this router through Mangum; the local
gateway includes the same router next to the others.

**A route joins the Lambda by being registered here** (and only here): the Lambda app is
built from ``code_routes`` alone, ``tests/infra/test_read_lambda_terraform.py`` checks that
API Gateway proxies exactly these paths to the Lambda, and the parity tests run each one
on both hosts. A route registered here may use only ``Reads`` (auth, limits, the table
reads, the cursor codec): the Lambda has no queue client. The tenant admin routes
(``tenants.py``: minting a signed track token reads the tenants table and signs, nothing
more) are registered here too.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from producers.gateway.auth import Role
from producers.gateway.context import annotate
from producers.gateway.cursor import Cursor, CursorError
from producers.gateway.errors import BadRequestError, NotFoundError
from producers.gateway.gateway import ADMIN_BUDGET, Reads
from producers.gateway.openapi import (
    ADMIN_SECURITY,
    PAGE_PARAMS,
    SANDBOX_ID_PARAM,
    TRACK_HEADERS,
    TRACK_SECURITY,
    error_responses,
)
from producers.gateway.routes.tenants import tenant_routes
from producers.gateway.validation import STATUS_ORDER, page_params, sandbox_id_param
from schemas.events import HistoryPage
from schemas.pool import AdminSandboxView, PoolStats, SandboxPage, SandboxView


def code_routes(gw: Reads) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/v1/sandboxes/{sandbox_id}",
        tags=["track"],
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
        principal = await gw.auth.principal(request.headers, Role.TRACK)
        sandbox_id_text = request.path_params["sandbox_id"]
        caller = gw.caller_of(
            request, principal, before_limit=lambda: sandbox_id_param(sandbox_id_text)
        )
        sandbox = await gw.store.sandbox(sandbox_id_param(sandbox_id_text))
        if sandbox is None or not caller.owns(sandbox.tenant, sandbox.allocated_to_track):
            raise NotFoundError("no such sandbox")
        return JSONResponse(SandboxView.of(sandbox).model_dump(mode="json"))

    @router.get(
        "/v1/admin/stats",
        tags=["admin"],
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
        await gw.auth.principal(request.headers, Role.ADMIN)
        gw.limit(Role.ADMIN, ADMIN_BUDGET)
        counts, by_tenant = await asyncio.gather(gw.store.counts(), gw.store.by_tenant())
        body = PoolStats.of_counts(counts).model_copy(update={"by_tenant": by_tenant})
        return JSONResponse(body.model_dump(mode="json"))

    @router.get(
        "/v1/admin/sandboxes",
        tags=["admin"],
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
        await gw.auth.principal(request.headers, Role.ADMIN)
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

    @router.get(
        "/v1/admin/sandboxes/{sandbox_id}/history",
        tags=["admin"],
        summary="The sandbox's leases, newest first (v2; kept 90 days)",
        description=(
            "One item per lease: tenant, track_id, track_name, allocated_at, expires_at, "
            "ended_at, end (`released` | `expired` | `forced`, null while it runs) and "
            "extensions. `next_cursor` is null on the last page; `status` is not a "
            "parameter here. An unknown sandbox has an empty history."
        ),
        response_model=None,
        responses={
            200: {"model": HistoryPage, "description": "One page"},
            **error_responses(400, 401, 403, 429, 503),
        },
        openapi_extra={
            "parameters": [SANDBOX_ID_PARAM, *PAGE_PARAMS[1:]],
            "security": ADMIN_SECURITY,
        },
    )
    async def history(request: Request) -> JSONResponse:
        annotate(request.scope, action="history")
        gw.auth.require(request.headers, Role.ADMIN)
        sandbox_id = sandbox_id_param(request.path_params["sandbox_id"])
        params = page_params(request.query_params)
        if params.status is not None:
            raise BadRequestError("status is not a parameter of the history")
        gw.limit(Role.ADMIN, ADMIN_BUDGET)
        scope = f"history:{sandbox_id}"  # a cursor is valid for this sandbox only
        start_key = None
        if params.cursor is not None:
            try:
                start_key = gw.cursors.decode(
                    params.cursor, status_filter=scope, positions=1
                ).start_key
            except CursorError as exc:
                raise BadRequestError(f"invalid cursor: {exc}") from None
        leases, last_key = await gw.store.history(
            sandbox_id, limit=params.limit, start_key=start_key
        )
        next_cursor = gw.cursors.encode(Cursor(scope, 0, last_key)) if last_key else None
        body = HistoryPage(items=leases, next_cursor=next_cursor)
        return JSONResponse(body.model_dump(mode="json"))

    tenant_routes(gw, router)
    return router
