"""``sandbox-broker smoke``: check a deployment against the contract (mounted by infra/cli.py)."""

from __future__ import annotations

import asyncio
import re

import typer

from producers.exits import ExitCode, fail, one_line
from producers.smoke.checks import run_smoke
from producers.smoke.model import DEADLINE_S, SmokeOptions, SmokeUnreachableError
from producers.smoke.report import print_json, print_table, verdict

_URL = re.compile(r"^https?://[^\s/]+(/[^\s]*)?$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def smoke(
    url: str = typer.Option(
        ...,
        "--url",
        envvar="BROKER_GATEWAY_URL",
        help="Base URL: http://127.0.0.1:8000, or the API Gateway stage URL.",
    ),
    token: str = typer.Option(..., "--token", envvar="BROKER_TRACK_TOKEN", help="A track token."),
    admin_token: str | None = typer.Option(
        None,
        "--admin-token",
        envvar="BROKER_ADMIN_TOKEN",
        help="The admin token: also checks the admin routes.",
    ),
    origin: str | None = typer.Option(
        None, "--origin", help="An allowed CORS origin: also checks preflight and CORS headers."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON document instead of a table."
    ),
) -> None:
    """Check a running deployment (local or AWS) against the contract, in under a minute.

    Health, auth errors, error bodies, allocate -> poll -> read -> release for a track named
    smoke-<uuid>, the idempotent repeat, another track's 404, security headers; the admin
    routes with --admin-token, CORS with --origin. It takes one sandbox and gives it back.

    Exit codes: 0 every check conforms, 1 a check deviated (named with its route),
    2 usage, 3 the URL did not answer.
    """
    if not _URL.match(url):
        fail(f"--url must be http(s)://host[:port][/path], got {url!r}", ExitCode.USAGE)
    if origin is not None and not _ORIGIN.match(origin):
        fail(f"--origin must be scheme://host[:port], got {origin!r}", ExitCode.USAGE)
    if not token.strip() or (admin_token is not None and not admin_token.strip()):
        fail("a token may not be empty", ExitCode.USAGE)
    options = SmokeOptions(url=url, token=token, admin_token=admin_token, origin=origin)
    try:
        report = asyncio.run(run_smoke(options))
    except SmokeUnreachableError as exc:
        fail(f"{url} did not answer ({one_line(exc)})", ExitCode.UNREACHABLE)
    if as_json:
        print_json(report)
    else:
        print_table(report)
    if not report.ok:
        if as_json:
            typer.echo(f"error: {verdict(report)}", err=True)
        raise typer.Exit(int(ExitCode.FAILED))


__all__ = ["DEADLINE_S", "smoke"]
