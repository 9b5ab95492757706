"""HTTP error answers of the gateway: every non-2xx is ``{"error": {"code", "message"}}``.

ApiError                      carries status, ErrorCode and extra headers
├── BadRequestError           400 INVALID_REQUEST
├── UnauthorizedError         401 UNAUTHORIZED (+ WWW-Authenticate: Bearer)
├── ForbiddenError            403 FORBIDDEN
├── NotFoundError             404 NOT_FOUND
├── PayloadTooLargeError      413 PAYLOAD_TOO_LARGE
├── RateLimitedError          429 RATE_LIMITED (+ Retry-After)
└── ServiceUnavailableError   503 QUEUE_UNAVAILABLE (a queue or table did not answer)
"""

from __future__ import annotations

from typing import ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from producers.gateway.context import annotate
from schemas.errors import ErrorCode
from schemas.replies import ErrorBody

#: Status of each HTTP-level code (failed-reply codes never become HTTP answers).
STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.QUEUE_UNAVAILABLE: 503,
}


class ApiError(Exception):
    """An answer other than 2xx; raised anywhere in a route, rendered by one handler."""

    status: ClassVar[int]
    code: ClassVar[ErrorCode]

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequestError(ApiError):
    status = 400
    code = ErrorCode.INVALID_REQUEST


class UnauthorizedError(ApiError):
    status = 401
    code = ErrorCode.UNAUTHORIZED

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class ForbiddenError(ApiError):
    status = 403
    code = ErrorCode.FORBIDDEN


class NotFoundError(ApiError):
    status = 404
    code = ErrorCode.NOT_FOUND


class PayloadTooLargeError(ApiError):
    status = 413
    code = ErrorCode.PAYLOAD_TOO_LARGE


class RateLimitedError(ApiError):
    status = 429
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ServiceUnavailableError(ApiError):
    """SQS or DynamoDB failed: 503 with the contract's only 503 code, the message naming which."""

    status = 503
    code = ErrorCode.QUEUE_UNAVAILABLE


def error_response(
    status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        ErrorBody.of(code, message).model_dump(mode="json"), status_code=status, headers=headers
    )


def _code_for_status(status: int) -> ErrorCode:
    for code, value in STATUS_OF.items():
        if value == status:
            return code
    return ErrorCode.INVALID_REQUEST if status < 500 else ErrorCode.QUEUE_UNAVAILABLE


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    annotate(request.scope, outcome=exc.code.value.lower())
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404 (no route) and 405 (wrong method), in the contract's body."""
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: "no such route", 405: "method not allowed on this route"}
    message = messages.get(exc.status_code, str(exc.detail))
    code = _code_for_status(exc.status_code)
    annotate(request.scope, outcome=code.value.lower())
    return error_response(exc.status_code, code, message, dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    annotate(request.scope, outcome="invalid_request")
    # Routes validate by hand (so auth comes first); this only catches what FastAPI checks.
    return error_response(400, ErrorCode.INVALID_REQUEST, "the request does not validate")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
