"""The contract's input rules: track headers, path ids, POST bodies and paging parameters.

Header values are 1-128 chars of ``[A-Za-z0-9._:@-]`` (the name prefix 1-64); an empty
optional header counts as absent; ``X-Instruqt-Sandbox-ID`` wins over the legacy
``X-Track-ID`` when both are sent (the legacy one is then ignored, even when malformed).
A header sent twice is joined with ", " as HTTP says, which no rule accepts: it is refused
rather than guessed at.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request

from producers.gateway.errors import BadRequestError, PayloadTooLargeError
from schemas.ids import (
    HEADER_VALUE_PATTERN,
    NAME_PREFIX_PATTERN,
    is_header_value,
    is_name_prefix,
    is_request_id,
)
from schemas.messages import MAX_EXTEND_BY_S, MAX_WAIT_FOR_SANDBOX_S, MIN_EXTEND_BY_S
from schemas.pool import SandboxStatus

TRACK_ID_HEADER: Final = "X-Instruqt-Sandbox-ID"
LEGACY_TRACK_ID_HEADER: Final = "X-Track-ID"
TRACK_NAME_HEADER: Final = "X-Instruqt-Track-ID"
NAME_PREFIX_HEADER: Final = "X-Sandbox-Name-Prefix"
IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
#: v2 (CONTRACT.md "Lease lifecycle"): seconds, decimal without sign or leading zeros.
WAIT_FOR_SANDBOX_HEADER: Final = "X-Wait-For-Sandbox-S"
EXTEND_BY_HEADER: Final = "X-Extend-By-S"
#: 0-900 and 60-86400 as patterns, so that API Gateway's templates apply the very same
#: rule (prelude.vtl holds copies; tests/infra/test_gateway_parity.py keeps them equal).
WAIT_FOR_SANDBOX_PATTERN: Final = "^([0-9]|[1-9][0-9]|[1-8][0-9][0-9]|900)$"
EXTEND_BY_PATTERN: Final = (
    "^([6-9][0-9]|[1-9][0-9]{2,3}|[1-7][0-9]{4}|8[0-5][0-9]{3}|86[0-3][0-9]{2}|86400)$"
)

#: Every request header a browser caller may send (CORS allow-list).
ALLOWED_REQUEST_HEADERS: Final = (
    "Authorization",
    "Content-Type",
    TRACK_ID_HEADER,
    TRACK_NAME_HEADER,
    LEGACY_TRACK_ID_HEADER,
    NAME_PREFIX_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    WAIT_FOR_SANDBOX_HEADER,
    EXTEND_BY_HEADER,
)

#: Patterns as the OpenAPI document states them: empty allowed (an empty header is absent).
OPTIONAL_HEADER_PATTERN: Final = HEADER_VALUE_PATTERN.replace("{1,128}", "{0,128}")
OPTIONAL_PREFIX_PATTERN: Final = NAME_PREFIX_PATTERN.replace("{1,64}", "{0,64}")

#: An empty POST body: blank, or `{}` with blanks around and inside, "blank" being what
#: Java's trim() removes (bytes up to 0x20), as API Gateway's template decides (prelude.vtl).
EMPTY_BODY: Final = re.compile(rb"[\x00-\x20]*(?:\{[\x00-\x20]*\}[\x00-\x20]*)?")
PAGE_LIMIT_DEFAULT: Final = 50
PAGE_LIMIT_MAX: Final = 100
#: The order in which an unfiltered listing walks the statuses (part of the cursor).
STATUS_ORDER: Final = tuple(SandboxStatus)


@dataclass(frozen=True)
class TrackHeaders:
    track_id: str
    track_name: str | None = None
    name_prefix: str | None = None
    idempotency_key: str | None = None


def _header(headers: Headers, name: str) -> str | None:
    """The header's value, None when absent or empty; several copies are joined (and refused)."""
    values = headers.getlist(name)
    if not values:
        return None
    value = ", ".join(values)
    return value or None


def _checked(headers: Headers, name: str, *, prefix: bool = False) -> str | None:
    value = _header(headers, name)
    if value is None:
        return None
    ok = is_name_prefix(value) if prefix else is_header_value(value)
    if not ok:
        limit = 64 if prefix else 128
        raise BadRequestError(f"{name} must be 1-{limit} chars of [A-Za-z0-9._:@-]")
    return value


def track_headers(headers: Headers) -> TrackHeaders:
    """Read and check the track headers; 400 when the track id is missing or any value is bad."""
    track_id = _checked(headers, TRACK_ID_HEADER)
    if track_id is None:
        track_id = _checked(headers, LEGACY_TRACK_ID_HEADER)
    if track_id is None:
        raise BadRequestError(f"{TRACK_ID_HEADER} (or legacy {LEGACY_TRACK_ID_HEADER}) is required")
    return TrackHeaders(
        track_id=track_id,
        track_name=_checked(headers, TRACK_NAME_HEADER),
        name_prefix=_checked(headers, NAME_PREFIX_HEADER, prefix=True),
        idempotency_key=_checked(headers, IDEMPOTENCY_KEY_HEADER),
    )


def _seconds(headers: Headers, name: str, pattern: str, low: int, high: int) -> int | None:
    value = _header(headers, name)
    if value is None:
        return None
    if re.fullmatch(pattern, value) is None:
        raise BadRequestError(
            f"{name} must be a whole number of seconds from {low} to {high} "
            "(digits only, no sign or leading zeros)"
        )
    seconds = int(value)
    assert low <= seconds <= high  # the pattern is the range
    return seconds


def wait_for_sandbox_header(headers: Headers) -> int:
    """``X-Wait-For-Sandbox-S``: 0-900 (absent or empty: 0, answer at once)."""
    found = _seconds(
        headers, WAIT_FOR_SANDBOX_HEADER, WAIT_FOR_SANDBOX_PATTERN, 0, MAX_WAIT_FOR_SANDBOX_S
    )
    return found or 0


def extend_by_header(headers: Headers) -> int | None:
    """``X-Extend-By-S``: 60-86400 (absent or empty: None, the consumer's ``extension_s``)."""
    return _seconds(headers, EXTEND_BY_HEADER, EXTEND_BY_PATTERN, MIN_EXTEND_BY_S, MAX_EXTEND_BY_S)


def sandbox_id_param(value: str) -> str:
    if not is_header_value(value):
        raise BadRequestError("sandbox_id must be 1-128 chars of [A-Za-z0-9._:@-]")
    return value


def request_id_param(value: str) -> str:
    if not is_request_id(value):
        raise BadRequestError("request_id must be 1-64 chars of [A-Za-z0-9_-]")
    return value


async def _read_body(request: Request, *, max_bytes: int) -> bytes:
    """The POST body: 413 above ``max_bytes`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise BadRequestError("Content-Length is not a number")
        # A length longer than max_bytes has more digits: no int() of a 5,000-digit text.
        if len(declared.lstrip("0")) > len(str(max_bytes)) or int(declared) > max_bytes:
            raise PayloadTooLargeError(f"the body may be at most {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:  # a chunked body, or one longer than it declared
            raise PayloadTooLargeError(f"the body may be at most {max_bytes} bytes")
    return bytes(body)


def _is_empty(body: bytes) -> bool:
    # Only whitespace or `{}` (JSON whitespace allowed around and inside): matched, never
    # parsed, so no body (16,000 `[`: a RecursionError in json.loads) costs more than a scan.
    return EMPTY_BODY.fullmatch(body) is not None


async def empty_body(request: Request, *, max_bytes: int) -> None:
    """POST bodies are empty or ``{}``: 413 above ``max_bytes`` (declared or streamed), else 400."""
    if not _is_empty(await _read_body(request, max_bytes=max_bytes)):
        raise BadRequestError("the body must be empty or {}")


#: v2 operator actions (``POST /v1/admin/sandboxes/{id}/<verb>``): the body is empty, ``{}``
#: or exactly ``{"reason": "..."}`` with spaces only around the tokens and a reason of 1-500
#: of these characters — the rule the AWS mapping template applies too, so that a reason
#: never needs escaping on its way into the message (no quotes, no backslashes).
REASON_PATTERN: Final = r"^[A-Za-z0-9 ._:@,;()/+-]{1,500}$"
OPERATOR_BODY_PATTERN: Final = r'^[{][ ]*"reason"[ ]*:[ ]*"[A-Za-z0-9 ._:@,;()/+-]{1,500}"[ ]*[}]$'


async def operator_body(request: Request, *, max_bytes: int) -> str | None:
    """The reason of an operator action (None: none given); 400 for any other body."""
    body = await _read_body(request, max_bytes=max_bytes)
    if _is_empty(body):
        return None
    text = body.decode("utf-8", "replace").strip(" \t\n\r\x0b\x0c\x00")
    if re.fullmatch(OPERATOR_BODY_PATTERN, text) is None:
        raise BadRequestError(
            'the body must be empty, {} or {"reason": "..."} with 1-500 chars of '
            "[A-Za-z0-9 ._:@,;()/+-]"
        )
    reason: str = json.loads(text)["reason"]
    return reason


@dataclass(frozen=True)
class PageParams:
    status: SandboxStatus | None
    limit: int
    cursor: str | None


def page_params(query: QueryParams) -> PageParams:
    """``status`` (one of the pool statuses), ``limit`` 1-100 (default 50), opaque ``cursor``."""
    for name in ("status", "limit", "cursor"):
        if len(query.getlist(name)) > 1:
            raise BadRequestError(f"{name} may be given once")
    raw_status = query.get("status") or None
    status: SandboxStatus | None = None
    if raw_status is not None:
        try:
            status = SandboxStatus(raw_status)
        except ValueError:
            known = ", ".join(s.value for s in SandboxStatus)
            raise BadRequestError(f"status must be one of {known}") from None
    raw_limit = query.get("limit")
    limit = PAGE_LIMIT_DEFAULT
    if raw_limit is not None:
        # At most 3 digits before int(): a 5,000-digit number would exceed Python's
        # integer-string conversion limit (a ValueError, answered 500) or cost CPU.
        if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 3) or not (
            1 <= int(raw_limit) <= PAGE_LIMIT_MAX
        ):
            raise BadRequestError(f"limit must be an integer from 1 to {PAGE_LIMIT_MAX}")
        limit = int(raw_limit)
    return PageParams(status=status, limit=limit, cursor=query.get("cursor") or None)


async def json_object_body(request: Request, *, max_bytes: int) -> dict[str, object]:
    """A small JSON object body (v2 admin routes): 413 above ``max_bytes``, else 400 for
    anything but one JSON object (deep nesting included: never a RecursionError 500)."""
    body = await _read_body(request, max_bytes=max_bytes)
    try:
        parsed = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError):
        raise BadRequestError("the body must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise BadRequestError("the body must be a JSON object")
    return parsed
