"""Track routes: allocate, mark-for-deletion, extend (v2), read a reply (sandbox read: code.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from producers.gateway.auth import Role
from producers.gateway.context import annotate
from producers.gateway.errors import ForbiddenError, NotFoundError
from producers.gateway.gateway import ADMIN_BUDGET, POLL_AFTER_S, Gateway, new_request_id
from producers.gateway.openapi import (
    ADMIN_SECURITY,
    EMPTY_BODY,
    EXTEND_BY_PARAM,
    REQUEST_ID_PARAM,
    SANDBOX_ID_PARAM,
    TRACK_HEADERS,
    TRACK_SECURITY,
    UNKNOWN_ACTION,
    WAIT_FOR_SANDBOX_PARAM,
    ReplyBody,
    accepted_response,
    error_responses,
)
from producers.gateway.validation import (
    empty_body,
    extend_by_header,
    request_id_param,
    sandbox_id_param,
    wait_for_sandbox_header,
)
from schemas.messages import AllocateMessage, ExtendMessage, ReleaseMessage
from schemas.replies import Reply


def track_routes(gw: Gateway) -> APIRouter:
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
            "parameters": [*TRACK_HEADERS, WAIT_FOR_SANDBOX_PARAM],
            "requestBody": EMPTY_BODY,
            "security": TRACK_SECURITY,
        },
    )
    async def allocate(request: Request) -> JSONResponse:
        annotate(request.scope, action="allocate")
        principal = await gw.auth.principal(request.headers, Role.TRACK)
        caller = gw.caller_of(
            request, principal, before_limit=lambda: wait_for_sandbox_header(request.headers)
        )
        headers = caller.headers
        wait_s = wait_for_sandbox_header(request.headers)
        if headers.name_prefix is not None and not caller.tenant.allows_prefix(headers.name_prefix):
            raise ForbiddenError("X-Sandbox-Name-Prefix lies outside the tenant's prefixes")
        await empty_body(request, max_bytes=max_body)
        message = AllocateMessage(
            request_id=new_request_id(),
            track_id=headers.track_id,
            tenant=caller.tenant_name,
            track_name=headers.track_name,
            name_prefix=headers.name_prefix,
            idempotency_key=headers.idempotency_key,
            wait_for_sandbox_s=wait_s,
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
        principal = await gw.auth.principal(request.headers, Role.TRACK)
        sandbox_id_text = request.path_params["sandbox_id"]
        caller = gw.caller_of(
            request, principal, before_limit=lambda: sandbox_id_param(sandbox_id_text)
        )
        headers = caller.headers
        sandbox_id = sandbox_id_param(sandbox_id_text)
        await empty_body(request, max_bytes=max_body)
        message = ReleaseMessage(
            request_id=new_request_id(),
            track_id=headers.track_id,
            tenant=caller.tenant_name,
            sandbox_id=sandbox_id,
            track_name=headers.track_name,
            idempotency_key=headers.idempotency_key,
        )
        annotate(request.scope, request_id=message.request_id, outcome="accepted")
        return await gw.enqueue(message, queue=names.requests_queue, group_id=headers.track_id)

    @router.post(
        "/v1/sandboxes/{sandbox_id}/extend",
        summary="Extend this track's lease (enqueues `extend`)",
        description=(
            "Pushes the lease's `expires_at` by `X-Extend-By-S` seconds (60-86400; default "
            "the deployment's `extension_s`), never past `allocated_at + max_lease_s`: beyond "
            "it the reply fails `LEASE_LIMIT_REACHED`. Result: `{sandbox_id, expires_at, "
            "idempotent}`. Owner only (`NOT_SANDBOX_OWNER` otherwise)."
        ),
        status_code=202,
        responses={
            **accepted_response("Enqueued: poll the reply"),
            **error_responses(400, 401, 403, 404, 413, 429, 503),
        },
        openapi_extra={
            "parameters": [SANDBOX_ID_PARAM, *TRACK_HEADERS, EXTEND_BY_PARAM],
            "requestBody": EMPTY_BODY,
            "security": TRACK_SECURITY,
        },
    )
    async def extend(request: Request) -> JSONResponse:
        annotate(request.scope, action="extend")
        principal = await gw.auth.principal(request.headers, Role.TRACK)
        sandbox_id_text = request.path_params["sandbox_id"]

        def validate() -> None:  # 400s before the rate budget is spent
            sandbox_id_param(sandbox_id_text)
            extend_by_header(request.headers)

        caller = gw.caller_of(request, principal, before_limit=validate)
        headers = caller.headers
        sandbox_id = sandbox_id_param(sandbox_id_text)
        extend_by_s = extend_by_header(request.headers)
        await empty_body(request, max_bytes=max_body)
        message = ExtendMessage(
            request_id=new_request_id(),
            track_id=headers.track_id,
            tenant=caller.tenant_name,
            sandbox_id=sandbox_id,
            extend_by_s=extend_by_s,
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
        principal = await gw.auth.principal(request.headers, Role.TRACK, Role.ADMIN)
        request_id_text = request.path_params["request_id"]
        caller = None
        if principal.role is Role.TRACK:
            caller = gw.caller_of(
                request, principal, before_limit=lambda: request_id_param(request_id_text)
            )
        request_id = request_id_param(request_id_text)
        annotate(request.scope, request_id=request_id)
        if caller is None:
            gw.limit(Role.ADMIN, ADMIN_BUDGET)
        record = await gw.store.reply(request_id)
        if record is None:
            reply = Reply.pending(request_id, UNKNOWN_ACTION)
        elif caller is not None and not caller.owns(record.tenant, record.track_id):
            raise NotFoundError("no such request")
        else:
            reply = record.to_reply()
        headers = {} if reply.terminal else {"Retry-After": str(POLL_AFTER_S)}
        annotate(request.scope, outcome=reply.status.value)
        return JSONResponse(reply.model_dump(mode="json"), headers=headers)

    return router
