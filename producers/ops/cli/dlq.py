"""``dlq list | show | replay``: the dead-letter queues, from a terminal or a script
(``purge`` is in ``dlq_purge``, registered on the same ``dlq_app``).

(Over 400 lines: three commands whose help texts and examples are a third of the module.)
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich import box
from rich.json import JSON
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from consumers.stores.clients import AwsClients
from producers.exits import ExitCode, fail
from producers.ops import dlq
from producers.ops.cli.output import JsonOpt, age, err, out, print_json, reflowed
from producers.ops.cli.runner import confirm_or_refuse, load_settings, run
from producers.ops.errors import MessageNotFoundError
from producers.ops.queues import queue_depth
from producers.ops.settings import OpsSettings


class QueueKind(StrEnum):
    requests = "requests"
    jobs = "jobs"


RECEIVE_COUNT_NOTE = (
    "Receive counts include this listing's own receive: reading a DLQ raises each "
    "message's ApproximateReceiveCount by one (nothing else changes)."
)


def _selector(type_: str | None, group: str | None) -> dlq.Selector:
    return dlq.Selector(type_=type_, group=group)


def _kind(queue: QueueKind | None) -> str | None:
    return queue.value if queue is not None else None


async def _peek(
    c: AwsClients,
    settings: OpsSettings,
    pairs: list[dlq.DlqPair],
    selector: dlq.Selector,
    limit: int,
) -> list[dlq.Peek]:
    return await dlq.peek_pairs(
        c.sqs,
        c.ddb,
        pairs=pairs,
        replies_table=settings.names.replies_table,
        selector=selector,
        limit=limit,
        wait_s=settings.receive_wait_s,
    )


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
                age(lt.age_s(now)),
                lt.reason or "-",
            )
    return table


@dlq_app.command("list")
@reflowed
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
    settings = load_settings()
    selector = _selector(type_, group)

    pairs = dlq.dlq_pairs(settings.names, _kind(queue))
    peeks = run(settings, lambda c: _peek(c, settings, pairs, selector, limit))
    now = time.time()
    letters = [lt for p in peeks for lt in p.letters]
    not_reached = {p.pair.kind: p.not_reached for p in peeks}
    if as_json:
        print_json(
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
@reflowed
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
    settings = load_settings()

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

    letter, reply = run(settings, work)
    now = time.time()
    detail = letter.detail(now)
    reply_json = reply.model_dump(mode="json") if reply is not None else None
    if as_json:
        print_json({"message": detail, "reply": reply_json})
        return
    head = Table(show_header=False, box=None)
    for key in ("queue", "dlq", "source_queue", "message_id", "request_id", "type", "group"):
        head.add_row(key, str(detail[key]))
    head.add_row("receive_count", f"{detail['receive_count']} (includes this read)")
    head.add_row("age", age(letter.age_s(now)))
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


@dlq_app.command("replay")
@reflowed
def dlq_replay(
    ctx: typer.Context,
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
        fail("--native moves everything: it takes no filters, --limit or --dry-run", ExitCode.USAGE)
    settings = load_settings()
    selector = _selector(type_, group)
    pairs = dlq.dlq_pairs(settings.names, _kind(queue))
    # set only by a test's own entry point (``app(obj=ReplayHooks(...))``)
    hooks = ctx.obj if isinstance(ctx.obj, dlq.ReplayHooks) else None

    if dry_run:
        _replay_dry_run(settings, pairs, selector, limit, as_json)
        return

    where = " and ".join(f"{p.dlq} -> {p.source}" for p in pairs)
    confirm_or_refuse(
        yes,
        f"Replay {'all' if limit is None else f'up to {limit}'} matching messages ({where})?",
        what="replay",
    )
    if native:
        handles = run(settings, lambda c: _native(c, pairs))
        if as_json:
            print_json({"tasks": handles})
        else:
            for dlq_name, handle in handles.items():
                out.print(f"started SQS message move task from {dlq_name}: {handle}")
        return

    reports = run(
        settings,
        lambda c: _replay_all(
            c, settings, pairs, selector, limit, visibility_timeout, as_json, hooks
        ),
    )
    if as_json:
        print_json({"queues": [r.as_dict() for r in reports]})
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
    hooks: dlq.ReplayHooks | None,
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
                await dlq.Replay(
                    c.sqs,
                    pair=pair,
                    selector=selector,
                    limit=left,
                    visibility_s=visibility_timeout,
                    wait_s=settings.receive_wait_s,
                    hooks=hooks,
                    on_sent=lambda _: progress.advance(task),
                ).run()
            )
    return reports


def _replay_dry_run(
    settings: OpsSettings,
    pairs: list[dlq.DlqPair],
    selector: dlq.Selector,
    limit: int | None,
    as_json: bool,
) -> None:
    peeks = run(settings, lambda c: _peek(c, settings, pairs, selector, limit or 1000))
    now = time.time()
    letters = [lt for p in peeks for lt in p.letters]
    if as_json:
        print_json(
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
