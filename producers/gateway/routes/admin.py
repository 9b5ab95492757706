"""Admin routes: the jobs an operator may run now (the admin reads are in ``code.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from producers.gateway.auth import Role
from producers.gateway.context import annotate
from producers.gateway.gateway import ADMIN_BUDGET, Gateway, new_request_id
from producers.gateway.openapi import (
    ADMIN_SECURITY,
    EMPTY_BODY,
    accepted_response,
    error_responses,
)
from producers.gateway.validation import empty_body
from schemas.messages import ADMIN_JOBS, JOB_MESSAGE, MessageType


def admin_routes(gw: Gateway) -> APIRouter:
    router = APIRouter(tags=["admin"])
    names = gw.settings.names

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
            await gw.auth.principal(request.headers, Role.ADMIN)
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
