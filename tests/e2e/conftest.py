"""The whole local stack (`sandbox-broker up`) in a child process, driven through the gateway."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

#: Start-up covers moto, provisioning, the fake CSP, consumer processes and a first sync.
START_TIMEOUT_S = 120.0


@dataclass
class RunningStack:
    info: dict
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return self.info["gateway_url"]

    def track_headers(self, track_id: str, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.info['track_token']}",
            "X-Instruqt-Sandbox-ID": track_id,
            **extra,
        }

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info['admin_token']}"}


def start_stack(
    tmp: Path,
    *,
    pool_size: int,
    consumers: int = 1,
    env: dict | None = None,
    scheduler: bool = False,
    wait_time_s: str | None = "1",
):
    """``up`` in its own process group; ``wait_time_s=None`` keeps ``up``'s own default."""
    ready = tmp / "ready.json"
    log = tmp / "stack.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_"))}
    child_env.update(
        BROKER_LOG_FORMAT="json",
        BROKER_LOG_LEVEL="INFO",
        BROKER_SHUTDOWN_TIMEOUT_S="10",
        # the profile `up` leaves goes here, not into the developer's .venv
        SANDBOX_BROKER_PROFILE=str(tmp / "profile.json"),
        **({} if wait_time_s is None else {"BROKER_WAIT_TIME_S": wait_time_s}),
        **(env or {}),
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "infra",
                "up",
                "--port",
                "0",
                "--pool-size",
                str(pool_size),
                "--consumers",
                str(consumers),
                "--consumer-port",
                "0",
                "--scheduler" if scheduler else "--no-scheduler",
                "--ready-file",
                str(ready),
            ],
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout kills it whole
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"stack did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)  # polling a file another process writes; there is no event to wait on
    return RunningStack(json.loads(ready.read_text()), proc, log)


def stop_stack(stack: RunningStack) -> int:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGTERM)
    try:
        return stack.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(stack.process.pid, signal.SIGKILL)
        stack.process.wait()
        raise


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[RunningStack]:
    """A stack with 20 sandboxes, shared by a module's tests (use distinct track ids)."""
    running = start_stack(tmp_path_factory.mktemp("stack"), pool_size=20)
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture
async def http(stack: RunningStack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
        yield client
