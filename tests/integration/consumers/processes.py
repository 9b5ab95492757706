"""Consumer processes for fault tests: `python -m infra consumer` against the test's moto."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.embedded.children import preexec_die_with_parent
from schemas.settings import CommonSettings
from tests.subprocesses import free_port

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class ConsumerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    port: int

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, nothing is released or acknowledged."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def events(self) -> list[dict]:
        out = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out


def start_consumer(
    settings: CommonSettings,
    log: Path,
    *,
    csp_url: str = "http://127.0.0.1:9/api",
    hold_after_handler_s: float | None = None,
    **env: str,
) -> ConsumerProcess:
    """A consumer process; with ``hold_after_handler_s`` it holds each request that long
    after its reply is written and before the ack (``held_consumer.py``)."""
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    child_env.update(
        BROKER_AWS_ENDPOINT_URL=settings.aws_endpoint_url or "",
        BROKER_NAME_PREFIX=settings.name_prefix,
        BROKER_HTTP_PORT=str(port),
        BROKER_LOG_FORMAT="json",
        BROKER_WAIT_TIME_S="1",
        BROKER_SHUTDOWN_TIMEOUT_S="5",
        BROKER_CSP_BASE_URL=csp_url,
        BROKER_CSP_TOKEN="unused-in-this-test",
    )
    child_env.update(env)
    command = [sys.executable, "-m", "infra", "consumer"]
    if hold_after_handler_s is not None:
        held = "tests.integration.consumers.held_consumer"
        command = [sys.executable, "-m", held, str(hold_after_handler_s)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,  # `-m tests...` imports the test package from the checkout
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            # the kernel SIGTERMs it if this test process dies first (no orphans)
            preexec_fn=preexec_die_with_parent(),
        )
    return ConsumerProcess(proc, log, port)
