"""Pool reads for operators: counts per status and pages of sandboxes, by index Query only.

Nothing here Scans (CONTRACT.md "Tables"): counts are ``Select=COUNT`` Queries on
StatusIndex, one per status; listings Query StatusIndex per status or TrackIndex for one
track. Index reads are eventually consistent, which is fine for a human looking. The
StatusIndex layout and counts are ``consumers/stores/status_index.py``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consumers.stores.status_index import count_by_status, status_query
from consumers.stores.tenants import tenant_usage
from schemas.items import sandbox_from_item
from schemas.pool import TRACK_INDEX, PoolStats, Sandbox, SandboxStatus

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient


async def pool_stats(
    ddb: DynamoDBClient, *, table: str, tenants_table: str | None = None
) -> PoolStats:
    """Counts by status (one COUNT Query per status) and their total; with
    ``tenants_table``, each tenant's leases and quota (``by_tenant``) too."""
    stats = PoolStats.of_counts(await count_by_status(ddb, table=table))
    if tenants_table is None:
        return stats
    usage = await tenant_usage(ddb, pool_table=table, tenants_table=tenants_table)
    return stats.model_copy(update={"by_tenant": usage})


async def _query(ddb: DynamoDBClient, kwargs: dict[str, Any], *, limit: int) -> list[Sandbox]:
    found: list[Sandbox] = []
    kwargs = {**kwargs, "Limit": min(limit, 100)}
    while len(found) < limit:
        resp = await ddb.query(**kwargs)
        found += [sandbox_from_item(item) for item in resp.get("Items", [])]
        if "LastEvaluatedKey" not in resp:
            break
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    return found[:limit]


async def list_sandboxes(
    ddb: DynamoDBClient,
    *,
    table: str,
    status: SandboxStatus | None = None,
    track: str | None = None,
    limit: int = 50,
) -> list[Sandbox]:
    """Up to ``limit`` sandboxes: one track's (TrackIndex), else per status (StatusIndex).

    Without a status, statuses are read in lifecycle order until the limit is met.
    """
    if track is not None:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": TRACK_INDEX,
            "KeyConditionExpression": "allocated_to_track = :t",
            "ExpressionAttributeValues": {":t": {"S": track}},
        }
        if status is not None:
            kwargs["FilterExpression"] = "#s = :s"
            kwargs["ExpressionAttributeNames"] = {"#s": "status"}
            kwargs["ExpressionAttributeValues"][":s"] = {"S": status.value}
        return await _query(ddb, kwargs, limit=limit)
    found: list[Sandbox] = []
    for s in [status] if status is not None else list(SandboxStatus):
        if len(found) >= limit:
            break
        found += await _query(ddb, status_query(table, s), limit=limit - len(found))
    return found
