"""Admin routes: pool stats, pool pages, and the jobs an operator may run now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from producers.gateway.auth import Role
from producers.gateway.context import annotate
from producers.gateway.cursor import Cursor, CursorError
from producers.gateway.errors import BadRequestError
from producers.gateway.gateway import ADMIN_BUDGET, Gateway, new_request_id
from producers.gateway.openapi import (
    ADMIN_SECURITY,
    EMPTY_BODY,
    PAGE_PARAMS,
    accepted_response,
    error_responses,
)
from producers.gateway.validation import STATUS_ORDER, empty_body, page_params
from schemas.messages import ADMIN_JOBS, JOB_MESSAGE, MessageType
from schemas.pool import AdminSandboxView, PoolStats, SandboxPage


def admin_routes(gw: Gateway) -> APIRouter:
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
