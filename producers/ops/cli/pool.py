"""``pool stats | list``: the sandbox pool, by index Queries only (``pool seed`` is infra's)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from producers.ops import pool as pool_reads
from producers.ops.cli.output import JsonOpt, age, out, print_json, reflowed
from producers.ops.cli.runner import load_settings, run
from schemas.pool import PoolStats, SandboxStatus


class StatusChoice(StrEnum):
    available = "available"
    allocated = "allocated"
    pending_deletion = "pending_deletion"
    stale = "stale"
    deletion_failed = "deletion_failed"
    quarantined = "quarantined"


pool_app = typer.Typer(
    help="The sandbox pool: reads (index Queries only, never a Scan), the operator verbs, history."
)


@pool_app.command("stats")
@reflowed
def pool_stats_cmd(as_json: JsonOpt = False) -> None:
    """Sandboxes per status and in total (one COUNT Query per status on StatusIndex).

    Examples:

      sandbox-broker pool stats

      sandbox-broker pool stats --json | jq .available
    """
    settings = load_settings()
    stats = run(settings, lambda c: pool_reads.pool_stats(c.ddb, table=settings.names.pool_table))
    if as_json:
        print_json(stats.model_dump())
        return
    out.print(pool_table(stats))


def pool_table(stats: PoolStats) -> Table:
    table = Table("status", "sandboxes", title="pool")
    for status, n in stats.model_dump(exclude={"by_tenant"}).items():
        table.add_row(status, str(n), style="bold" if status == "total" else None)
    return table


@pool_app.command("list")
@reflowed
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
    settings = load_settings()
    found = run(
        settings,
        lambda c: pool_reads.list_sandboxes(
            c.ddb,
            table=settings.names.pool_table,
            status=SandboxStatus(status.value) if status is not None else None,
            track=track,
            limit=limit,
        ),
    )
    if as_json:
        print_json([s.model_dump(mode="json") for s in found])
        return
    now = time.time()
    table = Table("sandbox id", "name", "status", "track", "allocated", "expires in")
    for s in found:
        table.add_row(
            s.sandbox_id,
            s.name,
            s.status.value,
            s.allocated_to_track or "-",
            age(now - s.allocated_at) + " ago" if s.allocated_at else "-",
            age(s.expires_at - now) if s.expires_at and s.expires_at > now else "-",
        )
    out.print(table)
    out.print(f"{len(found)} sandbox(es)")
