"""The profile ``up`` leaves: a second shell's commands reach the stack with no exports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _second_shell(profile: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``sandbox-broker ARGS`` in a shell with no BROKER_*/AWS_* exports."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_"))}
    clean.update(SANDBOX_BROKER_PROFILE=str(profile), **env)
    return subprocess.run(
        [sys.executable, "-m", "infra", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_second_shell_reaches_the_running_stack_through_its_profile(tmp_path) -> None:
    # GIVEN a running `up`, which said where its profile is
    stack = start_stack(tmp_path, pool_size=4)
    profile = tmp_path / "profile.json"
    try:
        assert "profile:" in stack.log.read_text()
        assert oct(profile.stat().st_mode & 0o777) == "0o600"  # it holds the tokens
        # WHEN a second shell asks, with nothing exported
        stats = _second_shell(profile, "pool", "stats", "--json")
        status = _second_shell(profile, "status", "--json")
        # THEN it reached this stack (its pool of 4)
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["available"] == 4
        assert status.returncode == 0, status.stderr
        # AND an exported variable still wins over the profile
        elsewhere = _second_shell(
            profile, "pool", "stats", "--json", BROKER_AWS_ENDPOINT_URL="http://127.0.0.1:9"
        )
        assert elsewhere.returncode != 0
        # AND --profile none reads none
        none = _second_shell(profile, "--profile", "none", "pool", "stats", "--json")
        assert none.returncode != 0
    finally:
        os.killpg(stack.process.pid, signal.SIGINT)
        stack.process.wait(timeout=60)
    # THEN a stopped stack leaves no profile behind
    assert not profile.exists()
