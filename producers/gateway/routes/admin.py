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
    SANDBOX_ID_PARAM,
    accepted_response,
    error_responses,
)
from producers.gateway.validation import (
    OPERATOR_BODY_PATTERN,
    empty_body,
    operator_body,
    sandbox_id_param,
)
from schemas.messages import (
    ADMIN_JOBS,
    ADMIN_SANDBOX_ACTIONS,
    DEFAULT_OPERATOR_REASON,
    JOB_MESSAGE,
    MessageType,
)

#: The optional body of an operator action (``{"reason": "..."}``), as OpenAPI states it.
REASON_BODY = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"reason": {"type": "string", "pattern": OPERATOR_BODY_PATTERN}},
                "additionalProperties": False,
                "description": (
                    'Empty, {} or exactly {"reason": "..."} (1-500 chars of '
                    '[A-Za-z0-9 ._:@,;()/+-]); without a reason: "operator request"'
                ),
            }
        }
    },
}


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

    def sandbox_action_route(slug: str, job: MessageType) -> None:
        @router.post(
            f"/v1/admin/sandboxes/{{sandbox_id}}/{slug}",
            name=f"admin_sandbox_{job.value}",
            summary=f"Operator action `{job.value}` on one sandbox (a job, polled like jobs)",
            status_code=202,
            responses={
                **accepted_response("Enqueued: poll the reply with the admin token"),
                **error_responses(400, 401, 403, 413, 429, 503),
            },
            openapi_extra={
                "parameters": [SANDBOX_ID_PARAM],
                "requestBody": REASON_BODY,
                "security": ADMIN_SECURITY,
            },
        )
        async def run_action(request: Request) -> JSONResponse:
            annotate(request.scope, action=job.value)
            gw.auth.require(request.headers, Role.ADMIN)
            sandbox_id = sandbox_id_param(request.path_params["sandbox_id"])
            annotate(request.scope, sandbox_id=sandbox_id)
            gw.limit(Role.ADMIN, ADMIN_BUDGET)
            reason = await operator_body(request, max_bytes=gw.settings.max_body_bytes)
            message = JOB_MESSAGE.validate_python(
                {
                    "type": job.value,
                    "request_id": new_request_id(),
                    "requested_by": "admin",
                    "sandbox_id": sandbox_id,
                    "reason": reason or DEFAULT_OPERATOR_REASON,
                }
            )
            annotate(request.scope, request_id=message.request_id, outcome="accepted")
            return await gw.enqueue(
                message, queue=names.jobs_queue, group_id=f"sandbox:{sandbox_id}"
            )

    for slug, job in ADMIN_JOBS.items():
        job_route(slug, job)
    for slug, job in ADMIN_SANDBOX_ACTIONS.items():
        sandbox_action_route(slug, job)
    return router
