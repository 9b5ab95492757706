"""``dlq purge``: delete every message of one DLQ, exporting and answering them first.

Registered on ``dlq_app`` when ``producers.ops.cli`` is imported (as every entry point does).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from consumers.stores.clients import AwsClients
from consumers.stores.replies import ReplyStore
from producers.exits import ExitCode, fail
from producers.ops import dlq
from producers.ops.cli.dlq import QueueKind, dlq_app
from producers.ops.cli.output import JsonOpt, err, out, print_json, reflowed
from producers.ops.cli.runner import confirm_or_refuse, load_settings, run
from producers.ops.queues import queue_depth


@dlq_app.command("purge")
@reflowed
def dlq_purge(
    queue: Annotated[
        QueueKind,
        typer.Option("--queue", "-q", help="Which DLQ: requests or jobs (required)."),
    ],
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Do not ask (scripts): purging is for good."),
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            "-e",
            dir_okay=False,
            help="First write every purged message to this new file (JSON lines: body and "
            "attributes as SQS gave them).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete every message in one DLQ, answering the requests they carry.

    At a terminal it shows the DLQ's counts and asks; scripts pass --yes (without a
    terminal and without --yes it refuses with exit 2). Every message is read, written to
    --export FILE when given, and its request, if it has no outcome yet, gets a failed
    DEAD_LETTERED reply (reason purged) so its caller stops polling; only then is it
    deleted. Messages held by another reader are waited for a moment, then left (and
    counted).

    Examples:

      sandbox-broker dlq purge --queue jobs

      sandbox-broker dlq purge --queue requests --export dead-letters.jsonl --yes --json
    """
    if not yes and not sys.stdin.isatty():
        fail("refusing to purge without --yes (no terminal to confirm on)", ExitCode.USAGE)
    if export is not None and export.exists():
        fail(f"--export {export}: the file exists; name a new one", ExitCode.USAGE)
    settings = load_settings()
    [pair] = dlq.dlq_pairs(settings.names, queue.value)
    if not yes:
        depth = run(settings, lambda c: queue_depth(c.sqs, pair.dlq))
        err.print(
            f"{pair.dlq}: about {depth.total} message(s) ({depth.visible} visible, "
            f"{depth.in_flight} in flight, {depth.delayed} delayed)."
        )
        err.print(
            "Requests without an outcome get DEAD_LETTERED (reason purged)"
            + (f"; every message is written to {export} first." if export else ".")
        )
        confirm_or_refuse(False, f"Purge {pair.dlq} for good?", what="purge")

    async def work(c: AwsClients) -> dlq.PurgeReport:
        opened = export.open("x", encoding="utf-8") if export else contextlib.nullcontext()
        with opened as file:
            return await dlq.Purge(
                c.sqs,
                ReplyStore(c.ddb, table=settings.names.replies_table),
                pair=pair,
                reply_ttl_s=settings.reply_ttl_s,
                export=file,
                wait_s=settings.receive_wait_s,
            ).run()

    report = run(settings, work)
    if as_json:
        print_json({"purged": {pair.dlq: report.purged}, "queues": [report.as_dict()]})
    else:
        out.print(
            f"purged {report.purged} message(s) from {pair.dlq}: {report.answered} request(s) "
            f"answered DEAD_LETTERED (purged), {report.already_terminal} had an outcome"
            + (f"; {report.exported} written to {export}" if export else "")
        )
        if report.failed or report.left_in_flight:
            err.print(
                f"{report.failed} message(s) could not be answered and "
                f"{report.left_in_flight} were held by another reader: they are still in "
                f"{pair.dlq}; run again."
            )
    if report.failed:
        raise typer.Exit(int(ExitCode.FAILED))
