"""A local webhook sink for lease events: what BROKER_EVENTS_WEBHOOK_URL points at in tests.

It records every JSON body POSTed to it (duplicates included: delivery is at least once)
and can be taken down and brought back on the same port, so a test can watch the events
reader hold its events through an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class EventsSink:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._app = Starlette(routes=[Route("/events", self._take, methods=["POST"])])

    async def _take(self, request: Request) -> Response:
        self.received.append(await request.json())
        return Response(status_code=204)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def ids(self, kind: str | None = None) -> set[str]:
        return {e["id"] for e in self.received if kind is None or e["type"] == kind}

    async def start(self) -> None:
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("the sink did not start")
            await asyncio.sleep(0.01)  # uvicorn exposes no start event
        if not self.port:
            self.port = self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Down: the port refuses connections until ``start`` again."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = self._task = None
