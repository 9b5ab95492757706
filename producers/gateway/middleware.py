"""The gateway's outer layer: security headers, CORS, one log line and metrics per request,
and the last-resort 500 in the contract's error body.

A plain ASGI middleware (not ``BaseHTTPMiddleware``) so streaming and exceptions pass through
untouched. It sits inside Starlette's ``ServerErrorMiddleware`` and catches what the route
and its handlers did not, so an unexpected exception still gets the error body and the
security headers, and never escapes to the server.

CORS is handled here rather than by Starlette's ``CORSMiddleware`` because that one answers
a refused preflight ``400 text/plain``, outside the contract's error body.
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
from producers.gateway.metrics import UNMATCHED, GatewayMetrics
from producers.gateway.validation import ALLOWED_REQUEST_HEADERS
from schemas.errors import ErrorCode

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


def internal_error() -> JSONResponse:
    return JSONResponse({"error": {"code": INTERNAL, "message": "internal error"}}, status_code=500)


class GatewayMiddleware:
    def __init__(
        self, app: ASGIApp, *, metrics: GatewayMetrics, cors_origins: Sequence[str]
    ) -> None:
        self.app = app
        self.metrics = metrics
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
            if (
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
            endpoint = scope["path"] if "endpoint" in scope else UNMATCHED
        method = scope["method"]
        self.metrics.requests.labels(method=method, endpoint=endpoint, status=str(status)).inc()
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
