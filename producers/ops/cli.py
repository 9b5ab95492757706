"""Operator commands (typer + rich): ``dlq``, ``pool``, ``jobs`` and ``status``.

The CLI root (``infra/cli.py``) mounts ``dlq_app``, ``pool_app``, ``jobs_app`` and the
``status`` command; ``python -m producers.ops.cli`` runs them standalone.

Exit codes, for scripts:
  0  done
  1  the operation failed (AWS refused it, a send failed, a job's reply is failed, not found)
  2  usage error or refused (bad option or environment value, a destructive command
     without --yes)
  3  the endpoint is unreachable, or ``jobs run --wait`` timed out
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import time
from collections.abc import Awaitable, Callable
from enum import IntEnum, StrEnum
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import ValidationError
from rich import box
from rich.console import Console, Group
from rich.json import JSON
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from consumers.stores.clients import AwsClients, aws_clients
from producers.ops import dlq, jobs, pool
from producers.ops.errors import MessageNotFoundError, OpsError
from producers.ops.queues import queue_depth, queue_url
from producers.ops.settings import OpsSettings
from producers.ops.status import StatusReport, collect_status
from schemas.pool import PoolStats, SandboxStatus

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNREACHABLE = 3


class QueueKind(StrEnum):
    requests = "requests"
    jobs = "jobs"


class StatusChoice(StrEnum):
    available = "available"
    allocated = "allocated"
    pending_deletion = "pending_deletion"
    stale = "stale"
    deletion_failed = "deletion_failed"
    quarantined = "quarantined"


RECEIVE_COUNT_NOTE = (
    "Receive counts include this listing's own receive: reading a DLQ raises each "
    "message's ApproximateReceiveCount by one (nothing else changes)."
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


# plumbing -------------------------------------------------------------------------------


def _one_line(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _fail(message: str, code: ExitCode) -> NoReturn:
    typer.echo(f"error: {_one_line(message)}", err=True)
    raise typer.Exit(int(code))


def _settings() -> OpsSettings:
    """Settings from the environment; a bad value is one line and exit 2, not a traceback."""
    try:
        return OpsSettings()
    except ValidationError as exc:
        for e in exc.errors():
            name = "_".join(str(p) for p in e["loc"]).upper() or "SETTINGS"
            typer.echo(f"error: BROKER_{name}: {_one_line(e['msg'])}", err=True)
        raise typer.Exit(int(ExitCode.USAGE)) from None


def _run(settings: OpsSettings, work: Callable[[AwsClients], Awaitable[T]]) -> T:
    """Run ``work`` with fresh clients; turn every expected failure into one line + code."""

    async def main() -> T:
        async with aws_clients(settings, settings.client_config) as clients:
            return await work(clients)

    endpoint = settings.aws_endpoint_url or f"AWS ({settings.aws_region})"
    try:
        return asyncio.run(main())
    except (BotoConnectionError, HTTPClientError) as exc:
        _fail(f"cannot reach {endpoint}: {exc}", ExitCode.UNREACHABLE)
    except (NoCredentialsError, NoRegionError) as exc:
        _fail(f"{exc} (set AWS credentials / AWS_REGION)", ExitCode.USAGE)
    except OpsError as exc:
        _fail(str(exc), ExitCode.FAILED)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        op = getattr(exc, "operation_name", "request")
        _fail(f"{op} failed: {error.get('Code', '?')}: {error.get('Message', '')}", ExitCode.FAILED)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.FAILED)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"


def _reflowed(fn: F) -> F:
    """Join the hard-wrapped lines of each docstring paragraph (typer's rich help keeps
    single line breaks, which renders ragged); indented paragraphs (examples) stay as is."""
    paragraphs = inspect.cleandoc(fn.__doc__ or "").split("\n\n")
    fn.__doc__ = "\n\n".join(
        p if p.startswith("  ") else " ".join(line.strip() for line in p.splitlines())
        for p in paragraphs
    )
    return fn


def _selector(type_: str | None, group: str | None) -> dlq.Selector:
    return dlq.Selector(type_=type_, group=group)


def _kind(queue: QueueKind | None) -> str | None:
    return queue.value if queue is not None else None


# dlq ------------------------------------------------------------------------------------

dlq_app = typer.Typer(
    help="Inspect, replay and purge the dead-letter queues (requests and jobs).",
    no_args_is_help=True,
)

QueueOpt = Annotated[
    QueueKind | None,
    typer.Option("--queue", "-q", help="Which DLQ: requests or jobs (default: both)."),
]
TypeOpt = Annotated[
    str | None, typer.Option("--type", "-t", help="Only messages of this type (allocate, sync…).")
]
GroupOpt = Annotated[
    str | None,
    typer.Option("--group", "-g", help="Only this message group (track id, job type…)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")]


def _letters_table(letters: list[dlq.DeadLetter], now: float) -> Table:
    """Ids are what an operator copies: never cut; the reason wraps instead."""
    ids = [lt.request_id or f"({lt.message_id})" for lt in letters]
    groups = [lt.group or "-" for lt in letters]
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("queue", no_wrap=True)
    table.add_column("request id", no_wrap=True, min_width=max(map(len, ids), default=10))
    table.add_column("type", no_wrap=True)
    table.add_column("group", no_wrap=True, min_width=min(max(map(len, groups), default=5), 40))
    table.add_column("rcv", justify="right", no_wrap=True)
    table.add_column("age", justify="right", no_wrap=True)
    table.add_column("reason", ratio=1, overflow="fold")
    for _, group_letters in dlq.by_group(letters):
        for lt in group_letters:
            table.add_row(
                lt.pair.kind,
                lt.request_id or f"({lt.message_id})",
                lt.type or "?",
                lt.group or "-",
                str(lt.receive_count),
                _age(lt.age_s(now)),
                lt.reason or "-",
            )
    return table


@dlq_app.command("list")
@_reflowed
def dlq_list(
    queue: QueueOpt = None,
    type_: TypeOpt = None,
    group: GroupOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List dead-lettered messages without consuming them.

    Shows request id, type, group, receive count, age and the reason when known (the
    broker's x-reject-reason attribute, else the reply row's error).

    Reading does not consume: messages are received, held while more are read, then
    released at once. It does raise each listed message's ApproximateReceiveCount by one,
    and the counts shown include that receive. A FIFO DLQ shows a group's later messages
    only once its earlier ones are gone, so a group with more than 10 messages is shown
    in part (the footer says how many were not reached).

    Examples:

      sandbox-broker dlq list

      sandbox-broker dlq list --queue requests --type allocate --limit 20

      sandbox-broker dlq list --group track-42 --json | jq '.messages[].request_id'
    """
    settings = _settings()
    selector = _selector(type_, group)

    async def work(c: AwsClients) -> list[dlq.Peek]:
        peeks: list[dlq.Peek] = []
        left = limit
        for pair in dlq.dlq_pairs(settings.names, _kind(queue)):
            found = await dlq.peek(
                c.sqs, pair=pair, selector=selector, limit=left, wait_s=settings.receive_wait_s
            )
            peeks.append(found)
            left -= len(found.letters)
            if left <= 0:
                break
        letters = [lt for p in peeks for lt in p.letters]
        await dlq.attach_reasons(c.ddb, table=settings.names.replies_table, letters=letters)
        return peeks

    peeks = _run(settings, work)
    now = time.time()
    letters = [lt for p in peeks for lt in p.letters]
    not_reached = {p.pair.kind: p.not_reached for p in peeks}
    if as_json:
        _print_json(
            {
                "messages": [lt.summary(now) for lt in letters],
                "not_reached": not_reached,
                "note": RECEIVE_COUNT_NOTE,
            }
        )
        return
    if letters:
        out.print(_letters_table(letters, now))
    out.print(f"{len(letters)} dead-lettered message(s) shown.")
    for kind, n in not_reached.items():
        if n:
            out.print(
                f"{kind} DLQ: about {n} more not reached (a FIFO queue hides a group's later "
                "messages while its earlier ones are read, and others may hold some in flight)."
            )
    out.print(f"[dim]{RECEIVE_COUNT_NOTE}[/]")


@dlq_app.command("show")
@_reflowed
def dlq_show(
    ident: Annotated[str, typer.Argument(help="A request id or an SQS message id.")],
    queue: QueueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one dead-lettered message: body, attributes and its reply row.

    Reading does not consume (the message is released at once; its receive count rises
    by one). Exit 1 when no DLQ holds such a message.

    Examples:

      sandbox-broker dlq show req_01JD3S4R7V6N2E5K8Q9W0X1Y2Z

      sandbox-broker dlq show 5fea7756-0ea4-451a-a703-a558b933e274 --queue jobs --json
    """
    settings = _settings()

    async def work(c: AwsClients) -> tuple[dlq.DeadLetter, Any]:
        found = await dlq.find(
            c.sqs,
            c.ddb,
            names=settings.names,
            ident=ident,
            kind=_kind(queue),
            wait_s=settings.receive_wait_s,
        )
        if found is None:
            raise MessageNotFoundError(ident)
        return found

    letter, reply = _run(settings, work)
    now = time.time()
    detail = letter.detail(now)
    reply_json = reply.model_dump(mode="json") if reply is not None else None
    if as_json:
        _print_json({"message": detail, "reply": reply_json})
        return
    head = Table(show_header=False, box=None)
    for key in ("queue", "dlq", "source_queue", "message_id", "request_id", "type", "group"):
        head.add_row(key, str(detail[key]))
    head.add_row("receive_count", f"{detail['receive_count']} (includes this read)")
    head.add_row("age", _age(letter.age_s(now)))
    head.add_row("reason", f"{letter.reason or '-'} ({letter.reason_source or 'unknown'})")
    out.print(head)
    out.rule("body")
    body = detail["body"]
    out.print(JSON.from_data(body) if not isinstance(body, str) else body)
    out.rule("message attributes")
    out.print(JSON.from_data(detail["message_attributes"]))
    out.rule("system attributes")
    out.print(JSON.from_data(detail["attributes"]))
    out.rule("reply row")
    out.print(JSON.from_data(reply_json) if reply_json is not None else "(no reply row)")


def _confirm_or_refuse(yes: bool, question: str, *, what: str) -> None:
    """--yes, or a human at a terminal saying yes; otherwise refuse with exit 2."""
    if yes:
        return
    if not sys.stdin.isatty():
        _fail(f"refusing to {what} without --yes (no terminal to confirm on)", ExitCode.USAGE)
    if not typer.confirm(question, default=False):
        _fail(f"not confirmed: nothing to {what}", ExitCode.USAGE)


@dlq_app.command("replay")
@_reflowed
def dlq_replay(
    queue: QueueOpt = None,
    type_: TypeOpt = None,
    group: GroupOpt = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Replay at most N messages.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be replayed; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    native: Annotated[
        bool,
        typer.Option(
            "--native",
            help="Let SQS move everything (StartMessageMoveTask): no filters, no order report.",
        ),
    ] = False,
    visibility_timeout: Annotated[
        int,
        typer.Option(
            "--visibility-timeout",
            min=1,
            max=43_200,
            help="Seconds a batch is held while it is replayed; after a crash its messages "
            "reappear in the DLQ after this long.",
        ),
    ] = 60,
    as_json: JsonOpt = False,
) -> None:
    """Move dead-lettered messages back to their source queue, in order.

    Each FIFO group is replayed strictly in DLQ order with its group id, body and
    attributes, under a fresh deduplication id (<request_id>:replay:<ULID>) so SQS's
    5-minute deduplication window cannot drop the copy. A message is sent first and
    deleted from the DLQ after: a crash leaves at most a duplicate, never a loss; run
    the command again to finish. A replayed request's reply is overwritten by its real
    outcome when the consumer handles it.

    Without --yes it asks at a terminal and refuses (exit 2) without one.

    Examples:

      sandbox-broker dlq replay --dry-run

      sandbox-broker dlq replay --queue requests --group track-42 --yes

      sandbox-broker dlq replay --type sync --limit 1 --yes --json

      sandbox-broker dlq replay --queue jobs --native --yes
    """
    if native and (dry_run or type_ or group or limit is not None):
        _fail(
            "--native moves everything: it takes no filters, --limit or --dry-run", ExitCode.USAGE
        )
    settings = _settings()
    selector = _selector(type_, group)
    pairs = dlq.dlq_pairs(settings.names, _kind(queue))

    if dry_run:
        _replay_dry_run(settings, pairs, selector, limit, as_json)
        return

    where = " and ".join(f"{p.dlq} -> {p.source}" for p in pairs)
    _confirm_or_refuse(
        yes,
        f"Replay {'all' if limit is None else f'up to {limit}'} matching messages ({where})?",
        what="replay",
    )
    if native:
        handles = _run(settings, lambda c: _native(c, pairs))
        if as_json:
            _print_json({"tasks": handles})
        else:
            for dlq_name, handle in handles.items():
                out.print(f"started SQS message move task from {dlq_name}: {handle}")
        return

    reports = _run(
        settings,
        lambda c: _replay_all(c, settings, pairs, selector, limit, visibility_timeout, as_json),
    )
    if as_json:
        _print_json({"queues": [r.as_dict() for r in reports]})
    else:
        table = Table("queue", "replayed", "failed", "skipped", "left in DLQ", "held by others")
        for r in reports:
            table.add_row(
                r.pair.kind,
                str(len(r.replayed)),
                str(len(r.failed)),
                str(r.skipped),
                str(r.left_visible),
                str(r.left_in_flight),
            )
        out.print(table)
        for r in reports:
            for letter, error in r.failed:
                err.print(f"failed: {letter.request_id or letter.message_id}: {error}")
            if r.not_deleted:
                err.print(
                    f"{r.not_deleted} sent message(s) could not be deleted from {r.pair.dlq}: "
                    "they will be replayed again (duplicates the handlers tolerate)."
                )
            if r.left_in_flight:
                err.print(
                    f"{r.left_in_flight} message(s) in {r.pair.dlq} were held by another reader "
                    "(or a crashed replay): run again once their visibility timeout has passed."
                )
    if any(r.failed for r in reports):
        raise typer.Exit(int(ExitCode.FAILED))


async def _native(c: AwsClients, pairs: list[dlq.DlqPair]) -> dict[str, str]:
    return {p.dlq: await dlq.start_native_move(c.sqs, pair=p) for p in pairs}


async def _replay_all(
    c: AwsClients,
    settings: OpsSettings,
    pairs: list[dlq.DlqPair],
    selector: dlq.Selector,
    limit: int | None,
    visibility_timeout: int,
    quiet: bool,
) -> list[dlq.ReplayReport]:
    depths = [await queue_depth(c.sqs, p.dlq) for p in pairs]
    estimate = sum(d.visible for d in depths)
    total = min(estimate, limit) if limit is not None else estimate
    reports: list[dlq.ReplayReport] = []
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    ) as progress:
        task = progress.add_task("replay", total=total or None)
        for pair in pairs:
            left = None if limit is None else limit - sum(len(r.replayed) for r in reports)
            if left is not None and left <= 0:
                break
            reports.append(
                await dlq.replay(
                    c.sqs,
                    pair=pair,
                    selector=selector,
                    limit=left,
                    visibility_s=visibility_timeout,
                    wait_s=settings.receive_wait_s,
                    pause_s=settings.test_replay_pause_s,
                    on_sent=lambda _: progress.advance(task),
                )
            )
    return reports


def _replay_dry_run(
    settings: OpsSettings,
    pairs: list[dlq.DlqPair],
    selector: dlq.Selector,
    limit: int | None,
    as_json: bool,
) -> None:
    async def work(c: AwsClients) -> list[dlq.Peek]:
        peeks: list[dlq.Peek] = []
        left = limit if limit is not None else 1000
        for pair in pairs:
            found = await dlq.peek(
                c.sqs, pair=pair, selector=selector, limit=left, wait_s=settings.receive_wait_s
            )
            peeks.append(found)
            left -= len(found.letters)
            if left <= 0:
                break
        letters = [lt for p in peeks for lt in p.letters]
        await dlq.attach_reasons(c.ddb, table=settings.names.replies_table, letters=letters)
        return peeks

    peeks = _run(settings, work)
    now = time.time()
    letters = [lt for p in peeks for lt in p.letters]
    if as_json:
        _print_json(
            {
                "dry_run": True,
                "would_replay": [lt.summary(now) for lt in letters],
                "not_reached": {p.pair.kind: p.not_reached for p in peeks},
            }
        )
        return
    if letters:
        out.print(_letters_table(letters, now))
    out.print(f"dry run: would replay {len(letters)} message(s); nothing was changed.")
    for p in peeks:
        if p.not_reached:
            out.print(
                f"{p.pair.kind} DLQ: about {p.not_reached} more not reached by reading "
                "(a replay reaches them as it deletes what it replayed)."
            )


@dlq_app.command("purge")
@_reflowed
def dlq_purge(
    queue: QueueOpt = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Required: purging deletes messages for good.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete every message in a DLQ (both DLQs unless --queue). Requires --yes.

    SQS allows one purge per queue per 60 s. Without --yes it refuses with exit 2.

    Examples:

      sandbox-broker dlq purge --queue jobs --yes
    """
    if not yes:
        _fail(
            "refusing to purge without --yes (purged messages cannot be recovered)", ExitCode.USAGE
        )
    settings = _settings()
    pairs = dlq.dlq_pairs(settings.names, _kind(queue))

    async def work(c: AwsClients) -> dict[str, int]:
        return {p.dlq: await dlq.purge(c.sqs, pair=p) for p in pairs}

    purged = _run(settings, work)
    if as_json:
        _print_json({"purged": purged})
        return
    for name, n in purged.items():
        out.print(f"purged {name} (about {n} message(s))")


# pool -----------------------------------------------------------------------------------

pool_app = typer.Typer(help="Read the sandbox pool (index Queries only, never a Scan).")


@pool_app.command("stats")
@_reflowed
def pool_stats_cmd(as_json: JsonOpt = False) -> None:
    """Sandboxes per status and in total (one COUNT Query per status on StatusIndex).

    Examples:

      sandbox-broker pool stats

      sandbox-broker pool stats --json | jq .available
    """
    settings = _settings()
    stats = _run(settings, lambda c: pool.pool_stats(c.ddb, table=settings.names.pool_table))
    if as_json:
        _print_json(stats.model_dump())
        return
    out.print(_pool_table(stats))


def _pool_table(stats: PoolStats) -> Table:
    table = Table("status", "sandboxes", title="pool")
    for status, n in stats.model_dump(exclude={"by_tenant"}).items():
        table.add_row(status, str(n), style="bold" if status == "total" else None)
    return table


@pool_app.command("list")
@_reflowed
def pool_list(
    status: Annotated[
        StatusChoice | None, typer.Option("--status", "-s", help="Only this status.")
    ] = None,
    track: Annotated[
        str | None, typer.Option("--track", help="Only this track's sandboxes (TrackIndex).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List sandboxes: by status (StatusIndex) or by track (TrackIndex).

    Examples:

      sandbox-broker pool list --status allocated --limit 20

      sandbox-broker pool list --track 4f1c2a --json
    """
    settings = _settings()
    found = _run(
        settings,
        lambda c: pool.list_sandboxes(
            c.ddb,
            table=settings.names.pool_table,
            status=SandboxStatus(status.value) if status is not None else None,
            track=track,
            limit=limit,
        ),
    )
    if as_json:
        _print_json([s.model_dump(mode="json") for s in found])
        return
    now = time.time()
    table = Table("sandbox id", "name", "status", "track", "allocated", "expires in")
    for s in found:
        table.add_row(
            s.sandbox_id,
            s.name,
            s.status.value,
            s.allocated_to_track or "-",
            _age(now - s.allocated_at) + " ago" if s.allocated_at else "-",
            _age(s.expires_at - now) if s.expires_at and s.expires_at > now else "-",
        )
    out.print(table)
    out.print(f"{len(found)} sandbox(es)")


# jobs -----------------------------------------------------------------------------------

jobs_app = typer.Typer(help="Run the periodic jobs on demand.")


@jobs_app.command("run")
@_reflowed
def jobs_run(
    job: Annotated[str, typer.Argument(help=f"One of: {', '.join(sorted(set(jobs.JOB_NAMES)))}.")],
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Wait for the reply and print it.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds --wait waits for the reply.")
    ] = 60.0,
) -> None:
    """Enqueue a job on the jobs queue as the admin API does; print JSON.

    Without --wait prints the accepted request (request id, poll path). With --wait polls
    the replies table until the reply is terminal and prints it: exit 0 when it
    succeeded, 1 when it failed, 3 when no reply came within --timeout.

    Examples:

      sandbox-broker jobs run sync --wait

      sandbox-broker jobs run delete-stale --wait --timeout 300 | jq .result
    """
    kind = jobs.JOB_NAMES.get(job)
    if kind is None:
        _fail(
            f"unknown job {job!r}; one of: {', '.join(sorted(set(jobs.JOB_NAMES)))}",
            ExitCode.USAGE,
        )
    settings = _settings()

    async def work(c: AwsClients) -> tuple[str, Any]:
        url = await queue_url(c.sqs, settings.names.jobs_queue)
        request_id, _ = await jobs.enqueue_job(c.sqs, queue_url=url, job=kind)
        if not wait:
            return request_id, None
        err.print(f"enqueued {kind.value} as {request_id}; waiting for its reply…")
        reply = await jobs.wait_reply(
            c.ddb, table=settings.names.replies_table, request_id=request_id, timeout_s=timeout
        )
        return request_id, reply

    request_id, reply = _run(settings, work)
    if not wait:
        _print_json(
            {
                "request_id": request_id,
                "action": kind.value,
                "status": "pending",
                "poll": f"/v1/requests/{request_id}",
            }
        )
        return
    if reply is None:
        _fail(f"no reply for {request_id} within {timeout:g}s", ExitCode.UNREACHABLE)
    _print_json(reply.to_reply().model_dump(mode="json"))
    if reply.status.value != "succeeded":
        raise typer.Exit(int(ExitCode.FAILED))


# status ---------------------------------------------------------------------------------


@_reflowed
def status(as_json: JsonOpt = False) -> None:
    """One screen: pool by status, queue and DLQ depths, the last scheduled job runs.

    Queue ages appear where the endpoint reports them (AWS publishes the age of the oldest
    message to CloudWatch only). Job runs are the replies of each job's current and
    previous scheduler bucket.

    Examples:

      sandbox-broker status

      sandbox-broker status --json | jq '.queues[] | select(.queue | endswith("DLQ"))'
    """
    settings = _settings()
    report = _run(settings, lambda c: collect_status(c.sqs, c.ddb, settings=settings))
    if as_json:
        _print_json(report.as_dict())
        return
    out.print(render_status(report))


def render_status(report: StatusReport) -> Group:
    """Pool, queues and job runs stacked: fits an 80-column terminal."""
    queues = Table(
        "queue", "visible", "in flight", "delayed", "oldest", title="queues", box=box.SIMPLE_HEAD
    )
    for q in report.queues:
        d = q.depth
        if d is None:
            queues.add_row(q.label, "[red]missing[/]", "", "", "")
            continue
        style = "red" if q.label.endswith("DLQ") and d.total else None
        queues.add_row(
            q.label,
            str(d.visible),
            str(d.in_flight),
            str(d.delayed),
            _age(d.oldest_age_s),
            style=style,
        )
    runs = Table(
        "job", "every", "status", "finished", "outcome", title="scheduled jobs", box=box.SIMPLE_HEAD
    )
    for j in report.jobs:
        r = j.reply
        if r is None:
            runs.add_row(j.job, _age(j.interval_s), "-", "-", "no reply in the last 2 intervals")
            continue
        outcome = (
            ", ".join(f"{k} {v}" for k, v in (r.result or {}).items())
            if r.error is None
            else f"{r.error.code.value}: {r.error.message}"
        )
        runs.add_row(
            j.job,
            _age(j.interval_s),
            r.status.value,
            _age(report.taken_at - r.completed_at) + " ago" if r.completed_at else "-",
            outcome,
            style="red" if r.status.value == "failed" else None,
        )
    pool_table = _pool_table(report.pool)
    pool_table.box = box.SIMPLE_HEAD
    return Group(pool_table, queues, runs)


# standalone entry point -------------------------------------------------------------------

app = typer.Typer(
    name="sandbox-broker-ops",
    help="Operator commands of the sandbox broker (mounted by `sandbox-broker`).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(dlq_app, name="dlq")
app.add_typer(pool_app, name="pool")
app.add_typer(jobs_app, name="jobs")
app.command("status")(status)


if __name__ == "__main__":
    app()
