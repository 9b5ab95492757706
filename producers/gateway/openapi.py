"""The OpenAPI document: one description for the local gateway and API Gateway alike.

Routes read their inputs by hand (auth first, then headers, then the rate limit, then the
body: FastAPI's own parameter validation would answer 422 before auth), so parameters,
security and responses are declared here instead of being inferred from signatures.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from producers.gateway.validation import (
    EXTEND_BY_HEADER,
    EXTEND_BY_PATTERN,
    IDEMPOTENCY_KEY_HEADER,
    LEGACY_TRACK_ID_HEADER,
    NAME_PREFIX_HEADER,
    OPTIONAL_HEADER_PATTERN,
    OPTIONAL_PREFIX_PATTERN,
    PAGE_LIMIT_DEFAULT,
    PAGE_LIMIT_MAX,
    TRACK_ID_HEADER,
    TRACK_NAME_HEADER,
    WAIT_FOR_SANDBOX_HEADER,
    WAIT_FOR_SANDBOX_PATTERN,
)
from schemas.ids import HEADER_VALUE_PATTERN, REQUEST_ID_PATTERN, RequestId
from schemas.pool import SandboxStatus
from schemas.replies import (
    Accepted,
    AllocateResult,
    ErrorBody,
    ErrorDetail,
    ExtendResult,
    JobResult,
    ReleaseResult,
    ReplyError,
    ReplyStatus,
)

#: ``action`` of a reply whose row does not exist yet: the GetItem integration cannot know
#: which message type a still-queued request was (the gateway writes nothing at enqueue).
UNKNOWN_ACTION = "unknown"

ReplyAction = Literal[
    "allocate",
    "release",
    "extend",
    "sync",
    "cleanup",
    "expire",
    "delete_stale",
    "delete_sandbox",
    "unknown",
]

DESCRIPTION = """\
Hands out pre-provisioned cloud sandboxes to lab tracks. Every POST only **enqueues** a
message (SQS FIFO, group = track id) and answers `202` with a `request_id`; the outcome is
read with `GET /v1/requests/{request_id}`. The same document describes API Gateway (REST,
direct SQS / DynamoDB integrations) and the local ASGI gateway.

* **Auth**: `Authorization: Bearer <token>`. Track routes take the track token,
  `/v1/admin/*` the admin token. Missing or wrong token: `401` (`WWW-Authenticate: Bearer`);
  a valid token on a route that is not its own: `403`. The admin token may read any reply.
* **Track headers**: `X-Instruqt-Sandbox-ID` (preferred) or `X-Track-ID` (legacy): one is
  required and becomes the track id; when both are sent the preferred one wins.
  `X-Instruqt-Track-ID`, `X-Sandbox-Name-Prefix`, `Idempotency-Key` are optional. Values are
  1-128 chars of `[A-Za-z0-9._:@-]` (prefix 1-64); an empty optional header counts as absent;
  anything else is `400`.
* **Leases (v2)**: `X-Wait-For-Sandbox-S` on allocate (0-900 s, default 0) keeps the
  request pending until a sandbox is claimed for it (oldest waiter first) or the wait ends
  (`NO_SANDBOXES_AVAILABLE`); `POST /v1/sandboxes/{id}/extend` with `X-Extend-By-S`
  (60-86400 s) pushes `expires_at`, never past `allocated_at + max_lease_s`
  (`LEASE_LIMIT_REACHED`). Values are digits without sign or leading zeros; else `400`.
* **Bodies**: POST bodies are empty or `{}`; anything else `400`, over 16 KiB `413`.
* **Rate limit**: per track id, counted after auth (default 100/min, burst 20); admin calls
  have their own budget. Over it: `429` with `Retry-After`.
* **Polling**: `202` and pending replies carry `Retry-After: 1` (advice for plain HTTP
  clients); the project's track client polls after ~100 ms, doubling up to 1 s.
  A reply row that does not exist yet reads as `pending` with `action: "unknown"` (the
  integration cannot know the type of a message still in the queue).
* **Errors**: every non-2xx answer is `{"error": {"code", "message"}}`.
"""


class ReplyBody(BaseModel):
    """A request's outcome; ``pending`` until a consumer writes the terminal reply."""

    request_id: RequestId
    action: ReplyAction
    status: ReplyStatus
    result: AllocateResult | ReleaseResult | ExtendResult | JobResult | None = None
    error: ReplyError | None = None
    completed_at: float | None = None


class HealthBody(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyBody(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]


class NotReadyBody(ReadyBody):
    error: ErrorDetail


class InternalErrorDetail(BaseModel):
    code: Literal["INTERNAL"]
    message: str


class InternalErrorBody(BaseModel):
    """The last resort: an unexpected failure, logged; never an answer to bad input."""

    error: InternalErrorDetail


_ERROR_TEXT = {
    400: "INVALID_REQUEST: a header, path id, query parameter or body breaks a rule",
    401: "UNAUTHORIZED: missing or invalid bearer token",
    403: "FORBIDDEN: the token is valid but not for this route",
    404: "NOT_FOUND: no such route, or not yours (existence is not leaked)",
    413: "PAYLOAD_TOO_LARGE: body over 16 KiB",
    429: "RATE_LIMITED: over the budget; retry after `Retry-After` seconds",
    503: "QUEUE_UNAVAILABLE: SQS or DynamoDB did not answer; nothing was enqueued",
}

_RETRY_AFTER = {
    "description": "Seconds to wait before asking again",
    "schema": {"type": "integer", "minimum": 0},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _ERROR_TEXT[status]}
        if status == 401:
            entry["headers"] = {
                "WWW-Authenticate": {"schema": {"type": "string"}, "required": True}
            }
        if status == 429:
            entry["headers"] = {"Retry-After": {**_RETRY_AFTER, "required": True}}
        out[status] = entry
    out[500] = {"model": InternalErrorBody, "description": "INTERNAL: unexpected failure"}
    return out


def accepted_response(description: str) -> dict[int | str, dict[str, Any]]:
    return {
        202: {
            "model": Accepted,
            "description": description,
            "headers": {
                "Location": {
                    "description": "Where to poll: /v1/requests/{request_id}",
                    "schema": {"type": "string"},
                    "required": True,
                },
                "Retry-After": {**_RETRY_AFTER, "required": True},
            },
        }
    }


def _header(name: str, description: str, pattern: str = OPTIONAL_HEADER_PATTERN) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


TRACK_HEADERS: list[dict[str, Any]] = [
    _header(TRACK_ID_HEADER, "The track id (one running lab). One of this or X-Track-ID."),
    _header(LEGACY_TRACK_ID_HEADER, "Legacy track id, ignored when X-Instruqt-Sandbox-ID is sent"),
    _header(TRACK_NAME_HEADER, "The lab type (track name): stored, never used for grouping"),
    _header(
        NAME_PREFIX_HEADER,
        "Allocate only sandboxes whose name starts with this",
        OPTIONAL_PREFIX_PATTERN,
    ),
    _header(IDEMPOTENCY_KEY_HEADER, "Stored with the allocation for audit"),
]

#: v2: allocate only. How long to wait for a sandbox when none is available.
WAIT_FOR_SANDBOX_PARAM = _header(
    WAIT_FOR_SANDBOX_HEADER,
    "Seconds (0-900, default 0) the request stays pending for a sandbox when none is "
    "available; waiters are served oldest first, then NO_SANDBOXES_AVAILABLE",
    WAIT_FOR_SANDBOX_PATTERN.replace("^(", "^(|"),
)
#: v2: extend only. How far to push the lease's expires_at.
EXTEND_BY_PARAM = _header(
    EXTEND_BY_HEADER,
    "Seconds (60-86400, default the deployment's extension_s) added to expires_at, never "
    "past allocated_at + max_lease_s",
    EXTEND_BY_PATTERN.replace("^(", "^(|"),
)


def path_param(name: str, pattern: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


SANDBOX_ID_PARAM = path_param("sandbox_id", HEADER_VALUE_PATTERN, "The sandbox id")
REQUEST_ID_PARAM = path_param("request_id", REQUEST_ID_PATTERN, "As answered by the 202")

PAGE_PARAMS: list[dict[str, Any]] = [
    {
        "name": "status",
        "in": "query",
        "required": False,
        "description": "Only sandboxes in this status (default: every status, in a fixed order)",
        "schema": {"type": "string", "enum": [s.value for s in SandboxStatus]},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": PAGE_LIMIT_MAX,
            "default": PAGE_LIMIT_DEFAULT,
        },
    },
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": "`next_cursor` of the previous page (opaque, signed)",
        "schema": {"type": "string"},
    },
]

EMPTY_BODY: dict[str, Any] = {
    "required": False,
    "description": "Empty, or `{}`",
    "content": {
        "application/json": {
            "schema": {"type": "object", "maxProperties": 0, "additionalProperties": False}
        }
    },
}

TRACK_SECURITY: list[dict[str, list[str]]] = [{"trackToken": []}]
ADMIN_SECURITY: list[dict[str, list[str]]] = [{"adminToken": []}]
NO_SECURITY: list[dict[str, list[str]]] = []


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        doc = get_openapi(
            title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes
        )
        doc.setdefault("components", {})["securitySchemes"] = {
            "trackToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "The track token: track routes",
            },
            "adminToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "The admin token: /v1/admin/* and any reply",
            },
        }
        app.openapi_schema = doc
    return app.openapi_schema
