"""The gateway's reads: GetItem for replies and sandboxes, StatusIndex Queries for the pool.

The index reads are ``consumers/stores/status_index.py``'s (one implementation of the
table layer); this module turns any AWS failure into the gateway's 503.

API Gateway reads DynamoDB the same way (GetItem / Query integrations). Nothing here Scans.
An AWS failure becomes a 503 naming the table; decoding our own rows is not guarded (a row
that does not validate is a bug, and the catch-all answers 500 for it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from consumers.stores.history import HistoryStore
from consumers.stores.status_index import count_by_status, status_page
from consumers.stores.tenants import tenant_usage
from producers.gateway.errors import ServiceUnavailableError
from schemas.events import LeaseRecord
from schemas.items import reply_from_item, sandbox_from_item
from schemas.pool import Sandbox, SandboxStatus, TenantUsage, sandbox_key
from schemas.replies import ReplyRecord

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

log = structlog.get_logger(__name__)


class GatewayStore:
    def __init__(
        self,
        ddb: DynamoDBClient,
        *,
        pool_table: str,
        replies_table: str,
        tenants_table: str | None = None,
    ) -> None:
        self._ddb = ddb
        self.pool_table = pool_table
        self.replies_table = replies_table
        self.tenants_table = tenants_table

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

    async def counts(self) -> dict[SandboxStatus, int]:
        """Every status's count (Query ``Select=COUNT`` on StatusIndex, never a Scan)."""
        try:
            return await count_by_status(self._ddb, table=self.pool_table)
        except Exception as exc:
            raise self._unavailable(self.pool_table, exc) from exc

    async def by_tenant(self) -> dict[str, TenantUsage]:
        """Each tenant's leases and quota (v2 ``by_tenant``): COUNT Queries, no Scan."""
        if self.tenants_table is None:
            return {}
        try:
            return await tenant_usage(
                self._ddb, pool_table=self.pool_table, tenants_table=self.tenants_table
            )
        except Exception as exc:
            raise self._unavailable(self.tenants_table, exc) from exc

    async def page(
        self, status: SandboxStatus, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Sandbox], dict[str, Any] | None]:
        """Up to ``limit`` sandboxes in one status, and the key to continue from (or None)."""
        try:
            return await status_page(
                self._ddb, table=self.pool_table, status=status, limit=limit, start_key=start_key
            )
        except Exception as exc:
            raise self._unavailable(self.pool_table, exc) from exc

    async def history(
        self, sandbox_id: str, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[LeaseRecord], dict[str, Any] | None]:
        """v2: a page of the sandbox's leases, newest first (one Query on its partition)."""
        try:
            return await HistoryStore(self._ddb, table=self.pool_table).page(
                sandbox_id, limit=limit, start_key=start_key
            )
        except Exception as exc:
            raise self._unavailable(self.pool_table, exc) from exc
