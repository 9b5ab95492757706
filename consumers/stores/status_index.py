"""StatusIndex reads of the pool table: the one way the pool is listed or counted.

``StatusIndex(status, allocated_at)`` is how every part reads the pool without a Scan
(CONTRACT.md "Tables"): the consumers for candidates, jobs and the pool gauges, the
gateway for stats and admin pages, the operator CLI for ``pool stats`` / ``list``. Index
reads are eventually consistent: fine for counts and candidates, never for ownership.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from schemas.items import sandbox_from_item
from schemas.pool import STATUS_INDEX, Sandbox, SandboxStatus, active_pk

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient


def status_query(table: str, status: SandboxStatus) -> dict[str, Any]:
    """Query arguments for one status on StatusIndex (callers add Limit, filters, keys)."""
    return {
        "TableName": table,
        "IndexName": STATUS_INDEX,
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": status.value}},
    }


async def count_status(ddb: DynamoDBClient, *, table: str, status: SandboxStatus) -> int:
    """How many sandboxes are in one status: ``Select=COUNT``, following every page (a
    page stops at 1 MB of index data)."""
    kwargs = status_query(table, status) | {"Select": "COUNT"}
    total = 0
    while True:
        resp = await ddb.query(**kwargs)
        total += resp.get("Count", 0)
        if "LastEvaluatedKey" not in resp:
            return total
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


async def count_by_status(ddb: DynamoDBClient, *, table: str) -> dict[SandboxStatus, int]:
    """Every status's count, the COUNT Queries in parallel."""
    found = await asyncio.gather(*(count_status(ddb, table=table, status=s) for s in SandboxStatus))
    return dict(zip(SandboxStatus, found, strict=True))


async def status_page(
    ddb: DynamoDBClient,
    *,
    table: str,
    status: SandboxStatus,
    limit: int,
    start_key: dict[str, Any] | None = None,
) -> tuple[list[Sandbox], dict[str, Any] | None]:
    """Up to ``limit`` sandboxes in one status, and the key to continue from (or None)."""
    kwargs = status_query(table, status) | {"Limit": limit}
    if start_key is not None:
        kwargs["ExclusiveStartKey"] = start_key
    resp = await ddb.query(**kwargs)
    return [sandbox_from_item(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")


async def count_leases(ddb: DynamoDBClient, *, table: str, tenant: str) -> int:
    """A tenant's leases: a consistent ``Query Select=COUNT`` on its lease markers
    (``ACTIVE#<tenant>``, v2), page by page. No hot counter item: it lags by at most the
    claims in flight."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": active_pk(tenant)}},
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    total = 0
    while True:
        resp = await ddb.query(**kwargs)
        total += int(resp.get("Count", 0))
        if "LastEvaluatedKey" not in resp:
            return total
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
