"""The LocalStack path end to end, with moto answering LocalStack's health route standing in
for LocalStack (no Docker here): ``up --localstack`` resolves it from LOCALSTACK_HOST,
provisions it, runs the stack and smoke-checks it; ``pytest -m localstack`` runs the
integration suite on it, and skips it with the reason when no LocalStack is set."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from infra.embedded.moto import EmbeddedMoto
from tests.infra.plan import REPO
from tests.localstack_standin import localstack_standin

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

START_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def standin() -> Iterator[EmbeddedMoto]:
    with localstack_standin() as server:
        yield server


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_"))}
    env.pop("LOCALSTACK_HOST", None)
    return {**env, **extra}


def test_up_localstack_provisions_runs_and_smoke_checks_the_stack(
    standin: EmbeddedMoto, tmp_path: Path
) -> None:
    ready, log = tmp_path / "ready.json", tmp_path / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "infra",
                "up",
                "--localstack",
                "--port",
                "0",
                "--consumer-port",
                "0",
                "--pool-size",
                "5",
                "--no-scheduler",
                "--ready-file",
                str(ready),
            ],
            env=child_env(
                LOCALSTACK_HOST=urlsplit(standin.url).netloc,
                BROKER_WAIT_TIME_S="1",
                BROKER_SHUTDOWN_TIMEOUT_S="10",
                BROKER_LOG_FORMAT="json",
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        # smoke runs after the ready file is written; its table ends with the verdict line
        while "skipped in" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.2)  # another process writes the log: there is no event to wait on
        info = json.loads(ready.read_text())
        assert info["aws_endpoint_url"] == standin.url
        text = log.read_text()
        assert f"LocalStack at {standin.url} (LOCALSTACK_HOST)" in text
        assert " 0 failed" in text, text[-4000:]
        assert proc.poll() is None, "a conforming stack keeps running"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-4000:]


def _suite(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "localstack",
            "-q",
            "-rs",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=REPO,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


SUITE_SAMPLE = ("tests/integration/test_provision.py", "tests/integration/gateway/test_reads.py")


def test_pytest_m_localstack_runs_the_integration_suite_on_it(standin: EmbeddedMoto) -> None:
    done = _suite(*SUITE_SAMPLE, LOCALSTACK_HOST=urlsplit(standin.url).netloc)
    assert done.returncode == 0, done.stdout[-4000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout.splitlines()[-1]


def test_pytest_m_localstack_without_one_skips_with_the_reason() -> None:
    done = _suite(*SUITE_SAMPLE)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "no LocalStack URL set" in done.stdout
    assert " passed" not in done.stdout.splitlines()[-1]
