"""The gateway's outer layer: security headers, CORS, one log line and metrics per request,
and the last-resort 500 in the contract's error body.

A plain ASGI middleware (not ``BaseHTTPMiddleware``) so streaming and exceptions pass through
untouched. It sits inside Starlette's ``ServerErrorMiddleware`` and catches what the route
and its handlers did not, so an unexpected exception still gets the error body and the
security headers, and never escapes to the server.

CORS is handled here rather than by Starlette's ``CORSMiddleware`` because that one answers
a refused preflight ``400 text/plain``, outside the contract's error body.

Header blocks over ``max_header_bytes`` (10 KiB, API Gateway's quota on "the request line
and header values") are refused first, before auth or routing, as API Gateway refuses them:
400 ``INVALID_REQUEST`` in the contract's body. The server's own limit must sit above this
one, or callers would see the server's bare answer instead (``server.uvicorn_config``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Final

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producers.gateway.context import annotate, log_fields
from producers.gateway.errors import error_response
from producers.gateway.metrics import (
    OWN_ROUTES,
    UNMATCHED,
    GatewayMetrics,
    method_label,
    status_label,
)
from producers.gateway.validation import ALLOWED_REQUEST_HEADERS
from schemas.errors import ErrorCode
from schemas.settings import API_GATEWAY_MAX_HEADER_BYTES

log = structlog.get_logger("producers.gateway")

SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
HSTS: Final = "max-age=31536000; includeSubDomains"
CORS_METHODS: Final = ("GET", "POST")
CORS_EXPOSED: Final = "Retry-After, Location"
CORS_MAX_AGE_S: Final = 600
#: Probes and scrapes hit these every few seconds: their log lines are debug, not info.
QUIET_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
#: Code of the last-resort answer (ErrorCode has no member for it: it is never meant to happen).
INTERNAL: Final = "INTERNAL"


def header_block_bytes(scope: Scope) -> int:
    """What API Gateway counts against its 10 KiB quota: the request line and header values.

    ``METHOD SP path[?query] SP HTTP/x.y`` plus every header value as sent (names and
    separators are not counted: the quota names values). Several copies of a header each count.
    """
    target = len(scope.get("raw_path") or scope["path"].encode())
    if scope.get("query_string"):
        target += 1 + len(scope["query_string"])
    line = (
        len(scope["method"]) + 1 + target + 1 + len("HTTP/") + len(scope.get("http_version", "1.1"))
    )
    return line + sum(len(value) for _, value in scope["headers"])


def internal_error() -> JSONResponse:
    return JSONResponse({"error": {"code": INTERNAL, "message": "internal error"}}, status_code=500)


class GatewayMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: GatewayMetrics,
        cors_origins: Sequence[str],
        max_header_bytes: int = API_GATEWAY_MAX_HEADER_BYTES,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_header_bytes = max_header_bytes
        self.any_origin = "*" in cors_origins
        self.origins = frozenset(o.rstrip("/") for o in cors_origins if o != "*")
        self.allowed_headers = frozenset(h.lower() for h in ALLOWED_REQUEST_HEADERS)

    def _origin_allowed(self, origin: str | None) -> bool:
        return origin is not None and (self.any_origin or origin in self.origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        https = scope.get("scheme") == "https"
        status = 500
        response_started = False

        async def send_wrapped(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if https:
                    headers["Strict-Transport-Security"] = HSTS
                if self.origins or self.any_origin:
                    headers.add_vary_header("Origin")
                if self._origin_allowed(origin):
                    headers["Access-Control-Allow-Origin"] = origin if origin else "*"
                    headers.setdefault("Access-Control-Expose-Headers", CORS_EXPOSED)
            await send(message)

        try:
            if header_block_bytes(scope) > self.max_header_bytes:
                annotate(scope, action="refused", outcome="headers_too_large")
                refusal = error_response(
                    400,
                    ErrorCode.INVALID_REQUEST,
                    f"the request line and headers may be at most {self.max_header_bytes} bytes",
                )
                await refusal(scope, receive, send_wrapped)
            elif (
                scope["method"] == "OPTIONS"
                and origin
                and ("access-control-request-method" in request_headers)
            ):
                annotate(scope, action="cors_preflight")
                await self._preflight(request_headers, origin)(scope, receive, send_wrapped)
            else:
                await self.app(scope, receive, send_wrapped)
        except Exception:
            annotate(scope, outcome="internal")
            log.exception("unhandled_error", path=scope.get("path"))
            if not response_started:
                await internal_error()(scope, receive, send_wrapped)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _preflight(self, headers: Headers, origin: str) -> Response:
        method = headers.get("access-control-request-method", "").upper()
        requested = {
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        }
        if not self._origin_allowed(origin):
            return error_response(403, ErrorCode.FORBIDDEN, "origin not allowed")
        if method not in CORS_METHODS or not requested <= self.allowed_headers:
            return error_response(403, ErrorCode.FORBIDDEN, "method or headers not allowed")
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Methods": ", ".join(CORS_METHODS),
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_REQUEST_HEADERS),
                "Access-Control-Max-Age": str(CORS_MAX_AGE_S),
            },
        )

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route: Any = scope.get("route")
        endpoint = getattr(route, "path_format", None)
        if endpoint is None:
            # Starlette's own routes (/openapi.json, /docs) match without naming a route;
            # they have no parameters, so their path is their template.
            matched = "endpoint" in scope and scope["path"] in OWN_ROUTES
            endpoint = scope["path"] if matched else UNMATCHED
        method = method_label(scope["method"])
        self.metrics.requests.labels(
            method=method, endpoint=endpoint, status=status_label(status)
        ).inc()
        self.metrics.latency.labels(method=method, endpoint=endpoint).observe(elapsed)
        fields = log_fields(scope)
        fields.setdefault("outcome", "success" if status < 400 else "error")
        emit = log.debug if scope.get("path") in QUIET_PATHS and status < 400 else log.info
        if status >= 500:
            emit = log.error
        emit(
            "http_request",
            method=method,
            endpoint=endpoint,
            status=status,
            latency_ms=round(elapsed * 1000, 2),
            **fields,
        )
