"""CLI against an unreachable endpoint or a bad environment (issue 6, proof 5)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.integration.ops.conftest import cli_process, run_cli

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


COMMANDS = [
    ["dlq", "list"],
    ["dlq", "replay", "--yes"],
    ["pool", "stats"],
    ["status"],
    ["jobs", "run", "sync", "--wait"],
]


async def test_unreachable_endpoint_is_one_line_exit_3_no_traceback() -> None:
    """Every command, as a real process, against a closed port (run side by side)."""
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    results = await asyncio.wait_for(
        asyncio.gather(*(cli_process(args, env) for args in COMMANDS)), timeout=60
    )

    for args, result in zip(COMMANDS, results, strict=True):
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 3, (args, result.stderr)
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("error: cannot reach http://127.0.0.1:"), args
        assert "Traceback" not in result.stderr
        assert result.stdout == "", args


async def test_bad_environment_value_is_one_line_exit_2() -> None:
    result = await run_cli(["pool", "stats"], {"BROKER_VISIBILITY_TIMEOUT_S": "soon"})

    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: BROKER_VISIBILITY_TIMEOUT_S: Input should be a valid integer, unable to parse "
        "string as an integer"
    ]
