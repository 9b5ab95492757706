"""One consumer process: the consumer app on uvicorn, stopped in order on SIGINT/SIGTERM.

``sandbox-broker consumer`` runs it; a test's own entry point may run it with hooks
(``consumers.app.ConsumerHooks``), which production never sets.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from typing import Final

import uvicorn

from consumers.app import ConsumerHooks, create_app
from consumers.stores.tracing import configure_tracing
from infra.embedded.server import QuietSignalServer
from schemas.settings import ConsumerSettings

#: What a drain that cannot finish gets beyond the shutdown timeout before the process
#: gives up (its AWS endpoint vanished mid-shutdown; an orchestrator would SIGKILL it).
DRAIN_GRACE_S: Final = 30.0


def run_consumer(settings: ConsumerSettings, *, hooks: ConsumerHooks | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then drain (see ``sandbox-broker consumer --help``)."""
    configure_tracing(settings, service="sandbox-broker-consumer")

    async def run() -> None:
        server = QuietSignalServer(
            uvicorn.Config(
                create_app(settings, hooks=hooks),
                host=settings.http_host,
                port=settings.http_port,
                log_level="warning",
                access_log=False,
            )
        )
        loop = asyncio.get_running_loop()

        def stop() -> None:
            server.should_exit = True
            watchdog = threading.Timer(settings.shutdown_timeout_s + DRAIN_GRACE_S, _give_up)
            watchdog.daemon = True
            watchdog.start()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        await server.serve()

    asyncio.run(run())


def _give_up() -> None:
    sys.stderr.write("error: shutdown did not finish within its deadline; exiting\n")
    sys.stderr.flush()
    os._exit(1)
