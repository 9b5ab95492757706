"""``sandbox-broker gateway`` and ``sandbox-broker track ...`` (mounted by ``infra/cli.py``).

The track commands print the reply as one JSON line on stdout and exit with a code a lab
script can branch on (``producers.exits``: 1 the request failed and its reply is printed,
2 usage or refused input or credentials (HTTP 4xx), 3 unreachable, timed out, rate limited
or the gateway failed); errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Final, TypeVar

import typer
from pydantic import ValidationError

from producers.exits import ExitCode, fail
from producers.gateway.server import serve_gateway
from producers.track_client import (
    WAIT_MARGIN_S,
    GatewayError,
    GatewayUnreachableError,
    RequestFailedError,
    RequestTimeoutError,
    SyncTrackClient,
    TrackClientError,
)
from schemas.ids import is_header_value, is_name_prefix, is_request_id
from schemas.messages import MAX_EXTEND_BY_S, MAX_WAIT_FOR_SANDBOX_S, MIN_EXTEND_BY_S
from schemas.replies import Reply, ReplyStatus
from schemas.settings import GatewaySettings

T = TypeVar("T")

gateway_app = typer.Typer(
    help="Run the local gateway (the stand-in for API Gateway).",
    pretty_exceptions_enable=False,
)
track_app = typer.Typer(
    help="Ask the gateway for a track's sandbox, give it back, or read a request's reply.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@gateway_app.callback(invoke_without_command=True)
def gateway(
    host: str | None = typer.Option(None, help="Listen address [default: BROKER_HOST]"),
    port: int | None = typer.Option(None, help="Listen port, 0 for any [default: BROKER_PORT]"),
) -> None:
    """Serve the gateway: auth, validation, rate limit, SendMessage and reply reads.

    Settings come from BROKER_* (tokens: BROKER_TRACK_TOKEN, BROKER_ADMIN_TOKEN) and the
    standard AWS variables; BROKER_AWS_ENDPOINT_URL points it at moto or LocalStack.
    """
    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        fail(f"BROKER_{field.upper()}: {first['msg']}", ExitCode.USAGE)
    if settings.track_token is None and settings.admin_token is None:
        typer.echo(
            "warning: no BROKER_TRACK_TOKEN / BROKER_ADMIN_TOKEN: every call is 401", err=True
        )
    try:
        asyncio.run(
            serve_gateway(
                settings,
                host=host if host is not None else settings.host,
                port=port if port is not None else settings.port,
            )
        )
    except KeyboardInterrupt:  # uvicorn drained on Ctrl-C, then re-raised it: a clean stop
        pass
    except OSError as exc:  # the port is taken, the address is not ours
        fail(f"cannot listen: {exc.strerror or exc}", ExitCode.USAGE)


# track ------------------------------------------------------------------------------------

URL_OPTION = typer.Option(
    "http://127.0.0.1:8000", "--url", envvar="BROKER_GATEWAY_URL", help="Gateway base URL"
)
TOKEN_OPTION = typer.Option(
    None,
    "--token",
    envvar="BROKER_TRACK_TOKEN",
    help="Bearer token (the admin token may read any reply)",
    show_default=False,
)
TIMEOUT_OPTION = typer.Option(30.0, "--timeout", min=0.1, help="Seconds to wait for the reply")


def _check(name: str, value: str | None, ok: Callable[[str], bool], rule: str) -> None:
    if value is not None and not ok(value):
        fail(f"{name} must be {rule}", ExitCode.USAGE)


HEADER_RULE: Final = "1-128 chars of [A-Za-z0-9._:@-]"


def _print(reply: Reply) -> None:
    typer.echo(json.dumps(reply.model_dump(mode="json"), separators=(",", ":")))


def _run(token: str | None, call: Callable[[str], T]) -> T:
    """Run a client call, turning every client error into its exit code and one line."""
    if not token:
        fail("no token: pass --token or set BROKER_TRACK_TOKEN", ExitCode.USAGE)
    try:
        return call(token)
    except RequestFailedError as exc:
        _print(exc.reply)
        fail(str(exc), ExitCode.FAILED)
    except RequestTimeoutError as exc:
        fail(f"{exc} (read it later: track status {exc.request_id})", ExitCode.UNREACHABLE)
    except GatewayUnreachableError as exc:
        fail(str(exc), ExitCode.UNREACHABLE)
    except GatewayError as exc:
        usage = 400 <= exc.status_code < 500 and exc.status_code != 429
        fail(str(exc), ExitCode.USAGE if usage else ExitCode.UNREACHABLE)
    except TrackClientError as exc:
        fail(str(exc), ExitCode.UNREACHABLE)


def _submit_and_wait(
    url: str, token: str, timeout: float, submit: Callable[[SyncTrackClient], str], track_id: str
) -> Reply:
    with SyncTrackClient(url, token) as client:
        request_id = submit(client)
        reply = client.wait(request_id, track_id=track_id, timeout=timeout)
    if reply.status is ReplyStatus.FAILED:
        raise RequestFailedError.from_reply(reply)
    return reply


@track_app.command()
def allocate(
    track_id: str = typer.Option(..., "--track-id", help="X-Instruqt-Sandbox-ID: the lab run"),
    track_name: str | None = typer.Option(None, "--track-name", help="X-Instruqt-Track-ID"),
    name_prefix: str | None = typer.Option(None, "--name-prefix", help="Only names with it"),
    idempotency_key: str | None = typer.Option(None, "--idempotency-key"),
    wait_for_sandbox: int | None = typer.Option(
        None,
        "--wait-for-sandbox",
        min=0,
        max=MAX_WAIT_FOR_SANDBOX_S,
        help=(
            "X-Wait-For-Sandbox-S: seconds to wait for a sandbox when none is available "
            "(waiters are served oldest first); --timeout grows to cover it"
        ),
    ),
    timeout: float = TIMEOUT_OPTION,
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
) -> None:
    """Get this track's sandbox (the same one again if it already has one)."""
    if wait_for_sandbox:
        timeout = max(timeout, wait_for_sandbox + WAIT_MARGIN_S)
    _check("--track-id", track_id, is_header_value, HEADER_RULE)
    _check("--track-name", track_name, is_header_value, HEADER_RULE)
    _check("--name-prefix", name_prefix, is_name_prefix, "1-64 chars of [A-Za-z0-9._:@-]")
    _check("--idempotency-key", idempotency_key, is_header_value, HEADER_RULE)
    reply = _run(
        token,
        lambda tok: _submit_and_wait(
            url,
            tok,
            timeout,
            lambda c: (
                c.submit_allocate(
                    track_id,
                    track_name=track_name,
                    name_prefix=name_prefix,
                    idempotency_key=idempotency_key,
                    wait_for_sandbox_s=wait_for_sandbox,
                    timeout=timeout,
                ).request_id
            ),
            track_id,
        ),
    )
    _print(reply)


@track_app.command()
def release(
    track_id: str = typer.Option(..., "--track-id", help="X-Instruqt-Sandbox-ID: the lab run"),
    sandbox_id: str = typer.Option(..., "--sandbox-id", help="The sandbox to give back"),
    timeout: float = TIMEOUT_OPTION,
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
) -> None:
    """Give the track's sandbox back (it is marked for deletion); idempotent."""
    _check("--track-id", track_id, is_header_value, HEADER_RULE)
    _check("--sandbox-id", sandbox_id, is_header_value, HEADER_RULE)
    reply = _run(
        token,
        lambda tok: _submit_and_wait(
            url,
            tok,
            timeout,
            lambda c: c.submit_release(track_id, sandbox_id, timeout=timeout).request_id,
            track_id,
        ),
    )
    _print(reply)


@track_app.command()
def extend(
    track_id: str = typer.Option(..., "--track-id", help="X-Instruqt-Sandbox-ID: the lab run"),
    sandbox_id: str = typer.Option(..., "--sandbox-id", help="The sandbox whose lease to extend"),
    by: int | None = typer.Option(
        None,
        "--by",
        min=MIN_EXTEND_BY_S,
        max=MAX_EXTEND_BY_S,
        help="X-Extend-By-S: seconds to add (default: the deployment's extension_s, 3600)",
    ),
    timeout: float = TIMEOUT_OPTION,
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
) -> None:
    """Extend the track's lease (never past allocated_at + max_lease_s: LEASE_LIMIT_REACHED)."""
    _check("--track-id", track_id, is_header_value, HEADER_RULE)
    _check("--sandbox-id", sandbox_id, is_header_value, HEADER_RULE)
    reply = _run(
        token,
        lambda tok: _submit_and_wait(
            url,
            tok,
            timeout,
            lambda c: (
                c.submit_extend(track_id, sandbox_id, extend_by_s=by, timeout=timeout).request_id
            ),
            track_id,
        ),
    )
    _print(reply)


@track_app.command()
def status(
    request_id: str = typer.Argument(..., help="The request_id a 202 answered"),
    track_id: str | None = typer.Option(
        None, "--track-id", help="Needed with the track token; not with the admin token"
    ),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
) -> None:
    """Print a request's reply as it stands (pending, succeeded or failed)."""
    _check("REQUEST_ID", request_id, is_request_id, "1-64 chars of [A-Za-z0-9_-]")
    _check("--track-id", track_id, is_header_value, HEADER_RULE)

    def read(tok: str) -> Reply:
        with SyncTrackClient(url, tok) as client:
            return client.status(request_id, track_id=track_id)

    reply = _run(token, read)
    _print(reply)
    if reply.status is ReplyStatus.FAILED:
        raise typer.Exit(int(ExitCode.FAILED))
