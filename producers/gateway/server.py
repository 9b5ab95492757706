"""Serving the gateway with uvicorn: on a socket bound up front, so its URL is known at once.

Binding first (port 0 picks a free port) lets the embedded stack print the URL, and a test
connect, before uvicorn is even scheduled: connections wait in the listen backlog.
"""

from __future__ import annotations

import socket
from typing import Any, Final

import structlog
import uvicorn
from aiobotocore.config import AioConfig
from fastapi import FastAPI

from consumers.stores.clients import aws_clients, client_config
from consumers.stores.tracing import configure_tracing
from producers.gateway.app import create_app
from schemas.settings import GatewaySettings

log = structlog.get_logger(__name__)

#: Standard retries absorb SQS/DynamoDB hiccups; short timeouts turn a dead endpoint into a
#: prompt 503 instead of a hanging caller (the track client polls again anyway).
CLIENT_CONFIG: Final[AioConfig] = client_config(
    connect_timeout_s=3,
    read_timeout_s=10,
    max_attempts=3,
    # every request is one AWS call: botocore's default pool of 10 would queue a burst
    max_pool_connections=128,
)
#: uvicorn's h11 refuses a request head over this many bytes with its own bare answer; it
#: sits well above ``max_header_bytes`` so that the gateway's contract answer (400
#: INVALID_REQUEST) is what a caller sees for any header block API Gateway would refuse.
SERVER_MAX_HEAD_BYTES: Final = 256 * 1024
#: In-flight requests get this long to finish on SIGINT/SIGTERM.
GRACEFUL_SHUTDOWN_S: Final = 10
BACKLOG: Final = 2048


class GatewayServer:
    """uvicorn on a pre-bound socket; ``serve()`` until SIGINT/SIGTERM or ``stop()``."""

    def __init__(self, app: FastAPI, *, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(BACKLOG)
        bound_port = self._sock.getsockname()[1]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        self.url = f"http://{shown}:{bound_port}"
        self._server = uvicorn.Server(uvicorn_config(app))

    async def serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._sock])
        finally:
            self._sock.close()

    def stop(self) -> None:
        self._server.should_exit = True


def uvicorn_config(app: FastAPI, **overrides: Any) -> uvicorn.Config:
    """How the gateway is served, here and in the embedded stack (``overrides`` for its
    host, port and drain time)."""
    options: dict[str, Any] = {
        "log_config": None,  # the process configured logging; uvicorn must not replace it
        "access_log": False,  # the gateway writes its own line per request
        "server_header": False,
        "proxy_headers": True,  # X-Forwarded-Proto from a trusted proxy → HSTS over https
        "lifespan": "off",
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "backlog": BACKLOG,
        "h11_max_incomplete_event_size": SERVER_MAX_HEAD_BYTES,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


async def serve_gateway(settings: GatewaySettings, *, host: str, port: int) -> None:
    """Build the clients and the app from settings and serve until told to stop."""
    configure_tracing(settings, service="sandbox-broker-gateway")
    async with aws_clients(settings, CLIENT_CONFIG) as aws:
        server = GatewayServer(create_app(settings, sqs=aws.sqs, ddb=aws.ddb), host=host, port=port)
        log.info("gateway_listening", url=server.url, docs=f"{server.url}/docs")
        await server.serve()
