"""``sandbox-broker smoke``'s edges: unreachable is 3, bad options are 2, both one line."""

from __future__ import annotations

import socket

import httpx
import pytest
from typer.testing import CliRunner

from infra.cli import app
from producers.smoke import Outcome, SmokeOptions, run_smoke


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there any more


def test_an_unreachable_url_exits_3_in_one_line() -> None:
    result = CliRunner().invoke(
        app, ["smoke", "--url", f"http://127.0.0.1:{closed_port()}", "--token", "t" * 24]
    )
    assert result.exit_code == 3
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "did not answer" in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--url", "localhost:8000", "--token", "t"],
        ["--url", "http://localhost:8000", "--token", " "],
        ["--url", "http://localhost:8000", "--token", "t", "--origin", "https://a.example/path"],
        ["--url", "http://localhost:8000", "--token", "t", "--admin-token", ""],
    ],
)
def test_bad_options_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["smoke", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


async def test_api_gateways_default_error_bodies_are_deviations() -> None:
    """A deployment answering with API Gateway's own {"message": ...} fails by name."""

    def handle(request: httpx.Request) -> httpx.Response:
        secure = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        }
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"}, headers=secure)
        return httpx.Response(403, json={"message": "Missing Authentication Token"}, headers=secure)

    report = await run_smoke(
        SmokeOptions(url="http://deployment.test", token="t" * 24),
        transport=httpx.MockTransport(handle),
    )
    assert not report.ok
    outcome = {r.check: r for r in report.results}
    assert outcome["health"].outcome is Outcome.OK
    assert outcome["missing token"].outcome is Outcome.FAILED
    assert "error body" in outcome["missing token"].detail
    assert outcome["allocate"].outcome is Outcome.FAILED
    assert outcome["read own sandbox"].outcome is Outcome.SKIPPED
    assert report.released == []  # nothing was taken, nothing to give back
