"""uvicorn without its own signal handling: the embedded stack stops parts in order."""

from __future__ import annotations

import contextlib
from collections.abc import Generator

import uvicorn


class QuietSignalServer(uvicorn.Server):
    """A uvicorn server whose SIGINT/SIGTERM belong to the process that embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    @property
    def port(self) -> int:
        port: int = self.servers[0].sockets[0].getsockname()[1]
        return port
