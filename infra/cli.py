"""``sandbox-broker``: the CLI root. Each package mounts its own commands here."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import signal
import sys
from pathlib import Path
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from consumers.stores.clients import aws_clients
from infra.aws import CLIENT_CONFIG
from infra.embedded import profile as profile_file
from infra.fake_csp import fake_csp_app
from infra.logging import configure_logging
from infra.provision import provision
from producers.cli import gateway_app, track_app
from producers.exits import ExitCode, fail
from producers.loadgen.cli import loadgen_app
from producers.ops.cli import dlq_app, jobs_app, pool_app, status, tenants_app
from producers.smoke.cli import smoke
from schemas.settings import CommonSettings

app = typer.Typer(
    name="sandbox-broker",
    help="Hands out pre-provisioned cloud sandboxes to lab tracks over SQS FIFO + DynamoDB.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
infra_app = typer.Typer(help="Provision queues and tables on moto, LocalStack or AWS.")
app.add_typer(infra_app, name="infra")
app.add_typer(fake_csp_app, name="fake-csp")
app.add_typer(gateway_app, name="gateway")
app.add_typer(track_app, name="track")
app.add_typer(pool_app, name="pool")
app.add_typer(dlq_app, name="dlq")
app.add_typer(jobs_app, name="jobs")
app.add_typer(tenants_app, name="tenants")
app.command("status")(status)
app.add_typer(loadgen_app, name="loadgen")
app.command("smoke")(smoke)

err = Console(stderr=True)


@app.callback()
def _root(
    ctx: typer.Context,
    profile: str | None = typer.Option(
        None,
        "--profile",
        envvar=profile_file.PROFILE_ENV,
        help=(
            "The local profile `up` leaves (default: sandbox-broker-up.json in this CLI's "
            "virtualenv) that status, dlq, pool, jobs, tenants, track, smoke and loadgen read "
            "to reach the running stack; BROKER_*/AWS_* variables override its values; "
            "'none': no profile."
        ),
        show_default=False,
    ),
) -> None:
    """Configure logging once for every command (BROKER_LOG_FORMAT, BROKER_LOG_LEVEL)."""
    if ctx.invoked_subcommand in profile_file.PROFILE_COMMANDS:
        note = profile_file.apply(profile_file.chosen(profile), explicit=profile is not None)
        if note:
            err.print(f"[yellow]note:[/] {note}")
    settings = load_settings(CommonSettings)
    configure_logging(settings.log_format, settings.log_level)


S = TypeVar("S", bound=CommonSettings)


def load_settings(cls: type[S]) -> S:
    """Read settings from the environment; a bad value is a one-line error, not a traceback."""
    try:
        return cls()
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "settings"
            err.print(f"[red]error:[/] BROKER_{field.upper()}: {e['msg']}")
        raise typer.Exit(int(ExitCode.USAGE)) from None


@infra_app.command("provision")
def provision_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Create both FIFO queues, their DLQs and redrive policies, and both tables (idempotent).

    Uses BROKER_AWS_ENDPOINT_URL / AWS_ENDPOINT_URL when set (moto, LocalStack), AWS otherwise.
    Running it twice changes nothing and says so.
    """
    settings = load_settings(CommonSettings)
    configure_logging("console" if not as_json else "json", "WARNING")

    async def run() -> list[tuple[str, str]]:
        async with aws_clients(settings, CLIENT_CONFIG) as aws:
            report = await provision(settings, sqs=aws.sqs, ddb=aws.ddb)
        return [(r, c.value) for r, c in report.changes]

    changes = asyncio.run(run())
    if as_json:
        sys.stdout.write(json.dumps([{"resource": r, "change": c} for r, c in changes]) + "\n")
        return
    table = Table("resource", "change")
    for resource, change in changes:
        table.add_row(resource, change)
    Console().print(table)
    if all(c == "unchanged" for _, c in changes):
        Console().print("Everything already exists as specified: nothing changed.")


@app.command("up")
def up_cmd(
    port: int = typer.Option(8000, help="Gateway port (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", help="Gateway bind address."),
    pool_size: int = typer.Option(200, min=0, help="Sandboxes the fake CSP starts with."),
    consumers: int = typer.Option(1, min=1, max=16, help="Consumer processes to run."),
    scheduler: bool = typer.Option(True, help="Run the job scheduler."),
    events: bool = typer.Option(
        True, help="Run the events reader (v2: lease history and events from the stream)."
    ),
    aws: bool = typer.Option(False, "--aws", help="Use real AWS (credentials from the env)."),
    localstack: bool = typer.Option(
        False,
        "--localstack",
        help=(
            "Use a running LocalStack, found as localstack-client finds it (AWS_ENDPOINT_URL, "
            "else LOCALSTACK_HOST, else localhost:4566); smoke-check the stack once it is up."
        ),
    ),
    ready_file: Path | None = typer.Option(
        None, help="Write URLs, tokens and consumer pids here as JSON once ready."
    ),
    consumer_port: int = typer.Option(
        8001, min=0, help="First consumer's /metrics port (0: free ports)."
    ),
) -> None:
    """Run the whole stack: embedded moto + fake CSP, consumers, scheduler and gateway.

    With AWS_ENDPOINT_URL set or --aws, the embedded moto server and fake CSP are skipped
    and the same parts run against that endpoint. --localstack finds a running LocalStack
    the way localstack-client does, provisions it, runs the stack (with the fake CSP unless
    BROKER_CSP_BASE_URL is set) and checks it with `smoke` (a deviation stops it, exit 1;
    an unreachable LocalStack is exit 3). Prints the gateway URL, the
    tokens (BROKER_TRACK_TOKEN / BROKER_ADMIN_TOKEN, generated when unset) and a ready curl.
    Ctrl-C drains in-flight work and stops.
    """
    settings = load_settings(CommonSettings)
    if aws and localstack:
        fail("--aws and --localstack exclude each other", ExitCode.USAGE)
    if localstack:
        from infra.localstack import LocalStackUnavailableError, health, resolve

        try:
            resolved = resolve()
            health(resolved.endpoint.url or "")
        except LocalStackUnavailableError as exc:
            fail(
                f"{exc} (resolved from {_source()}); start it or set LOCALSTACK_HOST",
                ExitCode.UNREACHABLE,
            )
    elif not (aws or settings.aws_endpoint_url) and importlib.util.find_spec("moto") is None:
        fail(
            "the embedded AWS needs moto, an extra of this package: "
            "pip install 'sandbox-broker[embedded]' (python3 dev.py up installs it), "
            "or set AWS_ENDPOINT_URL / pass --aws",
            ExitCode.USAGE,
        )
    from infra.embedded.stack import StackOptions, run_stack

    configure_logging("console", "WARNING")
    raise typer.Exit(
        run_stack(
            StackOptions(
                port=port,
                host=host,
                pool_size=pool_size,
                consumers=consumers,
                scheduler=scheduler,
                events=events,
                aws=aws,
                localstack=localstack,
                ready_file=ready_file,
                consumer_http_port=consumer_port,
            )
        )
    )


def _source() -> str:
    from infra.localstack import resolve

    try:
        return resolve().source
    except Exception:  # the message names the endpoint already
        return "the environment"


@app.command("consumer")
def consumer_cmd() -> None:
    """Run one consumer process (requests and jobs queues) with /healthz, /readyz, /metrics.

    Settings come from BROKER_* env vars (see `schemas/settings.py`: ConsumerSettings).
    SIGTERM/SIGINT stop receiving, finish in-flight work within BROKER_SHUTDOWN_TIMEOUT_S,
    release what was not started, flush acknowledgements, and exit 0.
    """
    from infra.consumer import run_consumer
    from schemas.settings import ConsumerSettings

    settings = load_settings(ConsumerSettings)
    configure_logging(settings.log_format, settings.log_level)
    run_consumer(settings)


@app.command("events")
def events_cmd() -> None:
    """Run the events reader: the pool table's stream → lease history and lease events.

    Every change of a sandbox becomes history (GET /v1/admin/sandboxes/{id}/history,
    `pool history`) and events (a log line event=lease_event; a POST of the JSON to
    BROKER_EVENTS_WEBHOOK_URL when set, retried until taken). Its checkpoint lives in the
    pool table, so a restart goes on where it stopped. `up` starts one. SIGTERM/SIGINT stop
    it after the batch in hand.
    """
    from consumers.events.app import run_events
    from schemas.settings import ConsumerSettings

    settings = load_settings(ConsumerSettings)
    configure_logging(settings.log_format, settings.log_level)
    run_events(settings, config=CLIENT_CONFIG)


@app.command("scheduler")
def scheduler_cmd() -> None:
    """Run the job scheduler: sync, cleanup, expire and delete_stale onto the jobs queue.

    Intervals come from BROKER_SYNC_INTERVAL_S etc. Replicas are safe: each job is enqueued
    once per interval (deduplicated by time bucket).
    """
    from producers.scheduler import Scheduler, schedules
    from schemas.settings import SchedulerSettings

    settings = load_settings(SchedulerSettings)
    configure_logging(settings.log_format, settings.log_level)

    async def run() -> None:
        async with aws_clients(settings, CLIENT_CONFIG) as aws:
            url = (await aws.sqs.get_queue_url(QueueName=settings.names.jobs_queue))["QueueUrl"]
            scheduler = Scheduler(aws.sqs, queue_url=url, plan=schedules(settings))
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, scheduler.stop)
            await scheduler.run()

    asyncio.run(run())


@pool_app.command("seed")
def pool_seed_cmd(
    count: int = typer.Option(..., "--count", "-n", min=1, max=100_000, help="How many."),
    prefix: str = typer.Option("lab-aws", help="Name prefix of the seeded sandboxes."),
    start: int = typer.Option(0, min=0, help="First sequence number (ids are seed-<n>)."),
) -> None:
    """Write COUNT available sandboxes straight into the pool (for trials without a CSP).

    Existing items are left alone (conditional put), so running it twice is safe.
    """
    from consumers.stores.pool import PoolStore
    from consumers.stores.replies import ReplyStore
    from schemas.pool import Sandbox, SandboxStatus

    settings = load_settings(CommonSettings)

    async def run() -> int:
        async with aws_clients(settings, CLIENT_CONFIG) as aws:
            replies = ReplyStore(aws.ddb, table=settings.names.replies_table)
            store = PoolStore(aws.ddb, table=settings.names.pool_table, replies=replies)
            written = 0
            for n in range(start, start + count):
                written += await store.put_available(
                    Sandbox(
                        sandbox_id=f"seed-{n:06d}",
                        name=f"{prefix}-{n:06d}",
                        external_id=f"identity/accounts/seed-{n:06d}",
                        status=SandboxStatus.AVAILABLE,
                    )
                )
            return written

    written = asyncio.run(run())
    Console().print(f"{written} sandboxes written, {count - written} already there")


def main() -> None:
    app()
