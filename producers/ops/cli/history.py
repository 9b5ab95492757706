"""``pool history ID``: a sandbox's leases, newest first (v2; kept 90 days)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from consumers.stores.clients import AwsClients
from consumers.stores.history import HistoryStore
from producers.ops.cli.output import JsonOpt, age, out, print_json, reflowed
from producers.ops.cli.pool import pool_app
from producers.ops.cli.runner import load_settings, run
from schemas.events import LeaseRecord


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@pool_app.command("history")
@reflowed
def pool_history(
    sandbox_id: Annotated[str, typer.Argument(help="The sandbox id.", show_default=False)],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Who had this sandbox, newest lease first: track, tenant, start, expiry, end.

    `end` is released, expired or forced (an operator's `pool release`), `-` while the
    lease runs. Leases are kept 90 days after they end (DynamoDB TTL). The history is
    written by the events reader (`sandbox-broker events`, started by `up`).

    Examples:

      sandbox-broker pool history sbx-00042

      sandbox-broker pool history sbx-00042 --json | jq '.[0].track_id'
    """
    settings = load_settings()

    async def work(c: AwsClients) -> list[LeaseRecord]:
        store = HistoryStore(c.ddb, table=settings.names.pool_table)
        found: list[LeaseRecord] = []
        start = None
        while len(found) < limit:
            page, start = await store.page(
                sandbox_id, limit=min(limit - len(found), 100), start_key=start
            )
            found += page
            if start is None:
                break
        return found

    leases = run(settings, work)
    if as_json:
        print_json([lease.model_dump(mode="json") for lease in leases])
        return
    now = time.time()
    table = Table("allocated", "track", "tenant", "held for", "end", "extensions", title=sandbox_id)
    for lease in leases:
        held = (lease.ended_at or now) - lease.allocated_at
        table.add_row(
            _when(lease.allocated_at),
            lease.track_id + (f" ({lease.track_name})" if lease.track_name else ""),
            lease.tenant,
            age(held),
            lease.end or "-",
            str(lease.extensions),
        )
    out.print(table)
    out.print(f"{len(leases)} lease(s)")
