"""The gateway's reads: GetItem for replies and sandboxes, StatusIndex Queries for the pool.

API Gateway reads DynamoDB the same way (GetItem / Query integrations). Nothing here Scans.
An AWS failure becomes a 503 naming the table; decoding our own rows is not guarded (a row
that does not validate is a bug, and the catch-all answers 500 for it).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog

from producers.gateway.errors import ServiceUnavailableError
from schemas.items import reply_from_item, sandbox_from_item
from schemas.pool import STATUS_INDEX, Sandbox, SandboxStatus, sandbox_key
from schemas.replies import ReplyRecord

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

log = structlog.get_logger(__name__)


class GatewayStore:
    def __init__(self, ddb: DynamoDBClient, *, pool_table: str, replies_table: str) -> None:
        self._ddb = ddb
        self.pool_table = pool_table
        self.replies_table = replies_table

    def _unavailable(self, table: str, exc: Exception) -> ServiceUnavailableError:
        log.warning("table_unavailable", table=table, outcome="error", error=type(exc).__name__)
        return ServiceUnavailableError(f"the table {table} did not answer")

    async def reply(self, request_id: str) -> ReplyRecord | None:
        try:
            resp = await self._ddb.get_item(
                TableName=self.replies_table,
                Key={"request_id": {"S": request_id}},
                ConsistentRead=True,
            )
        except Exception as exc:
            raise self._unavailable(self.replies_table, exc) from exc
        item = resp.get("Item")
        return reply_from_item(item) if item else None

    async def sandbox(self, sandbox_id: str) -> Sandbox | None:
        key = {k: {"S": v} for k, v in sandbox_key(sandbox_id).items()}
        try:
            resp = await self._ddb.get_item(TableName=self.pool_table, Key=key, ConsistentRead=True)
        except Exception as exc:
            raise self._unavailable(self.pool_table, exc) from exc
        item = resp.get("Item")
        return sandbox_from_item(item) if item else None

    def _status_query(self, status: SandboxStatus) -> dict[str, Any]:
        return {
            "TableName": self.pool_table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": status.value}},
        }

    async def count(self, status: SandboxStatus) -> int:
        """Query ``Select=COUNT`` on StatusIndex, following every page (a page stops at 1 MB)."""
        kwargs = {**self._status_query(status), "Select": "COUNT"}
        total = 0
        try:
            while True:
                resp = await self._ddb.query(**kwargs)
                total += resp.get("Count", 0)
                if "LastEvaluatedKey" not in resp:
                    return total
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        except Exception as exc:
            raise self._unavailable(self.pool_table, exc) from exc

    async def counts(self) -> dict[SandboxStatus, int]:
        found = await asyncio.gather(*(self.count(s) for s in SandboxStatus))
        return dict(zip(SandboxStatus, found, strict=True))

    async def page(
        self, status: SandboxStatus, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Sandbox], dict[str, Any] | None]:
        """Up to ``limit`` sandboxes in one status, and the key to continue from (or None)."""
        kwargs = {**self._status_query(status), "Limit": limit}
        if start_key is not None:
            kwargs["ExclusiveStartKey"] = start_key
        try:
            resp = await self._ddb.query(**kwargs)
        except Exception as exc:
            raise self._unavailable(self.pool_table, exc) from exc
        items = [sandbox_from_item(i) for i in resp.get("Items", [])]
        return items, resp.get("LastEvaluatedKey")
