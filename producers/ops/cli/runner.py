"""Running an operator command: settings, clients, and every expected failure as one line.

Exit codes are ``producers.exits.ExitCode`` (the README's): 1 the operation failed, 2
usage or refused, 3 the endpoint is unreachable or a wait timed out.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from botocore.exceptions import ClientError, HTTPClientError, NoCredentialsError, NoRegionError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import ValidationError

from consumers.stores.clients import AwsClients, aws_clients
from producers.exits import ExitCode, fail, one_line
from producers.ops.errors import OpsError
from producers.ops.settings import OpsSettings

T = TypeVar("T")


def load_settings() -> OpsSettings:
    """Settings from the environment; a bad value is one line and exit 2, not a traceback."""
    try:
        return OpsSettings()
    except ValidationError as exc:
        for e in exc.errors():
            name = "_".join(str(p) for p in e["loc"]).upper() or "SETTINGS"
            typer.echo(f"error: BROKER_{name}: {one_line(e['msg'])}", err=True)
        raise typer.Exit(int(ExitCode.USAGE)) from None


def run(settings: OpsSettings, work: Callable[[AwsClients], Awaitable[T]]) -> T:
    """Run ``work`` with fresh clients; turn every expected failure into one line + code."""

    async def main() -> T:
        async with aws_clients(settings, settings.client_config) as clients:
            return await work(clients)

    endpoint = settings.aws_endpoint_url or f"AWS ({settings.aws_region})"
    try:
        return asyncio.run(main())
    except (BotoConnectionError, HTTPClientError) as exc:
        fail(f"cannot reach {endpoint}: {exc}", ExitCode.UNREACHABLE)
    except (NoCredentialsError, NoRegionError) as exc:
        fail(f"{exc} (set AWS credentials / AWS_REGION)", ExitCode.USAGE)
    except OpsError as exc:
        fail(str(exc), ExitCode.FAILED)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        op = getattr(exc, "operation_name", "request")
        fail(f"{op} failed: {error.get('Code', '?')}: {error.get('Message', '')}", ExitCode.FAILED)
    except KeyboardInterrupt:
        fail("interrupted", ExitCode.FAILED)


def confirm_or_refuse(yes: bool, question: str, *, what: str) -> None:
    """--yes, or a human at a terminal saying yes; otherwise refuse with exit 2."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"refusing to {what} without --yes (no terminal to confirm on)", ExitCode.USAGE)
    if not typer.confirm(question, default=False):
        fail(f"not confirmed: nothing to {what}", ExitCode.USAGE)
