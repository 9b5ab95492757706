"""``sandbox-broker loadgen``: drive the broker with many tracks and print what it did.

Exit codes: 0 the run finished and its checks held; 1 a check failed (a sandbox held by
two tracks, or a request left without a terminal reply); 2 bad options.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from producers.loadgen.engine import LoadResult, Progress, run_load
from producers.loadgen.options import LoadOptions, Target
from producers.loadgen.plot import write_plot
from producers.loadgen.report import Summary, quantile

EXAMPLES = """
Examples (`sandbox-broker up --ready-file ready.json` running in another terminal):

  # 1,000 tracks at once through the gateway, with a latency plot
  sandbox-broker loadgen --ready-file ready.json --burst -n 1000 --plot burst.png

  # 200 allocations a minute for 3 minutes (open loop), each released again
  sandbox-broker loadgen --ready-file ready.json --rate 200/min -n 600 --duration 180 --release

  # 20 tracks in a closed loop, straight onto the queue, results as JSON
  sandbox-broker loadgen --ready-file ready.json --target queue --concurrency 20 -n 500 \\
      --json-out run.json

  # a burst with 1% malformed messages (queue target only)
  sandbox-broker loadgen --ready-file ready.json --target queue --burst -n 1000 \\
      --poison-rate 0.01
"""

loadgen_app = typer.Typer(
    help="Load generator: N tracks at a rate, a concurrency or all at once.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

err = Console(stderr=True)


def _ready(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/] --ready-file {path}: {exc}")
        raise typer.Exit(2) from None
    if not isinstance(data, dict):
        err.print(f"[red]error:[/] --ready-file {path}: not a JSON object")
        raise typer.Exit(2)
    return data


def _progress_table(p: Progress, options: LoadOptions) -> Table:
    table = Table(title=f"loadgen · {options.target.value} · {options.pacing}", show_header=False)
    table.add_column(justify="right")
    table.add_column()
    recent = sorted(p.recent_ms[-500:])
    table.add_row("elapsed", f"{p.elapsed_s:6.1f} s")
    table.add_row("started", f"{p.started} / {p.planned}")
    table.add_row("answered", str(p.answered))
    if recent:
        table.add_row(
            "recent latency",
            f"p50 {quantile(recent, 50):.0f} ms · p99 {quantile(recent, 99):.0f} ms",
        )
    for outcome, n in sorted(p.outcomes.items()):
        table.add_row(outcome, str(n))
    return table


def print_summary(summary: Summary, console: Console) -> None:
    table = Table(title="load run", show_header=False)
    table.add_column(justify="right")
    table.add_column()
    table.add_row("target / pacing", f"{summary.target} · {summary.pacing}")
    table.add_row("started", summary.started_at)
    table.add_row("requests (+ poison)", f"{summary.requests} (+{summary.poison})")
    table.add_row("wall time", f"{summary.wall_s:.2f} s")
    table.add_row("throughput", f"{summary.throughput_per_s} answered/s")
    table.add_row("succeeded", f"{summary.succeeded_per_s}/s")
    for code, n in summary.outcomes.items():
        table.add_row(f"outcome {code}", str(n))
    table.add_row("distinct sandboxes", str(summary.distinct_sandboxes))
    table.add_row("doubles", str(len(summary.doubles)))
    table.add_row("without a terminal reply", str(summary.without_reply))
    for action, lat in summary.latency.items():
        table.add_row(
            f"{action} end-to-end",
            f"p50 {lat.p50_ms} · p95 {lat.p95_ms} · p99 {lat.p99_ms} · max {lat.max_ms} ms"
            f" (n={lat.count})",
        )
    for action, lat in summary.reply_written.items():
        table.add_row(
            f"{action} reply written",
            f"p50 {lat.p50_ms} · p99 {lat.p99_ms} ms (sent → reply row, no poll wait)",
        )
    client = ", ".join(f"{k} {v}" for k, v in summary.client_calls.per_request.items())
    table.add_row("client calls / request", client)
    if summary.server_calls is None:
        table.add_row("server calls / request", "n/a (not the embedded moto)")
    else:
        s = summary.server_calls
        table.add_row("server SQS / request", str(s.sqs_per_request))
        table.add_row("server DynamoDB / request", str(s.dynamodb_per_request))
        table.add_row("DynamoDB / success (consumers)", str(s.dynamodb_without_loadgen_per_success))
    if summary.dlq_messages is not None:
        table.add_row("DLQ messages", str(summary.dlq_messages))
    console.print(table)


@loadgen_app.callback(invoke_without_command=True, epilog=EXAMPLES)
def loadgen(
    ready_file: Path | None = typer.Option(
        None, help="`sandbox-broker up --ready-file` output: URL, token, endpoint, prefix."
    ),
    url: str | None = typer.Option(None, "--url", help="Gateway base URL (loopback)."),
    token: str | None = typer.Option(
        None, "--token", envvar="BROKER_TRACK_TOKEN", help="Track token.", show_default=False
    ),
    aws_endpoint_url: str | None = typer.Option(
        None,
        envvar="BROKER_AWS_ENDPOINT_URL",
        help="moto/LocalStack endpoint: the queue target and server-side call counts.",
    ),
    name_prefix: str | None = typer.Option(
        None, envvar="BROKER_NAME_PREFIX", help="Resource name prefix of the queues and tables."
    ),
    target: Target = typer.Option(Target.GATEWAY, help="gateway (HTTP) or queue (SQS direct)."),
    requests: int = typer.Option(100, "--requests", "-n", help="Requests to send (at most)."),
    rate: str | None = typer.Option(
        None, help="Open loop: requests per second, or N/min (e.g. 200/min)."
    ),
    concurrency: int | None = typer.Option(None, help="Closed loop: tracks in flight at once."),
    burst: bool = typer.Option(False, "--burst", help="Send every request at once."),
    duration: float = typer.Option(60.0, help="Stop starting requests after this many seconds."),
    timeout: float = typer.Option(60.0, help="Seconds each request may take to be answered."),
    tracks: int | None = typer.Option(
        None, help="Distinct track ids, reused round-robin [default: one per request]."
    ),
    release: bool = typer.Option(False, "--release", help="Give each sandbox back after."),
    poison_rate: float = typer.Option(
        0.0, help="Share of malformed messages sent before a request in its group (queue)."
    ),
    connections: int = typer.Option(
        1000, help="HTTP / AWS connections at most (a burst's tracks each hold one)."
    ),
    json_out: Path | None = typer.Option(None, help="Write options and figures as JSON here."),
    plot: Path | None = typer.Option(None, help="Latency-over-time plot: a .png or .html file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live progress."),
) -> None:
    """Drive the broker with N tracks and report latency, outcomes, doubles and API calls."""
    ready = _ready(ready_file)
    try:
        options = LoadOptions(
            target=target,
            gateway_url=url or ready.get("gateway_url"),
            token=token or ready.get("track_token"),
            aws_endpoint_url=aws_endpoint_url or ready.get("aws_endpoint_url"),
            name_prefix=name_prefix if name_prefix is not None else ready.get("name_prefix", ""),
            requests=requests,
            rate=rate,
            concurrency=concurrency,
            burst=burst,
            duration_s=duration,
            timeout_s=timeout,
            tracks=tracks,
            release=release,
            poison_rate=poison_rate,
            connections=connections,
        )
    except ValidationError as exc:
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"])
            err.print(f"[red]error:[/] {where + ': ' if where else ''}{e['msg']}")
        raise typer.Exit(2) from None
    if plot is not None and plot.suffix.lower() not in {".png", ".html", ".htm"}:
        err.print("[red]error:[/] --plot must end in .png or .html")
        raise typer.Exit(2)

    result = asyncio.run(_run(options, quiet=quiet))
    out = Console()
    print_summary(result.summary, out)
    if json_out is not None:
        json_out.write_text(result_json(result))
        out.print(f"figures written to {json_out}")
    if plot is not None:
        write_plot(plot, result.records, result.summary)
        out.print(f"plot written to {plot}")
    if not result.summary.ok:
        err.print(
            f"[red]check failed:[/] {len(result.summary.doubles)} doubles, "
            f"{result.summary.without_reply} without a terminal reply"
        )
        raise typer.Exit(1)


async def _run(options: LoadOptions, *, quiet: bool) -> LoadResult:
    if quiet:
        return await run_load(options)
    with Live(console=err, refresh_per_second=4, transient=True) as live:
        return await run_load(
            options, on_progress=lambda p: live.update(_progress_table(p, options))
        )


def result_json(result: LoadResult) -> str:
    """Options (token left out) and figures, as one JSON document."""
    return json.dumps(
        {
            "options": result.options.model_dump(mode="json", exclude={"token"}),
            "summary": result.summary.model_dump(mode="json"),
        },
        indent=2,
    )
