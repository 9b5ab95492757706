"""Lease history items and the stream reader's checkpoints, both in the pool table (v2).

History: one item per lease, ``PK = HIST#<sandbox_id>``, ``SK = LEASE#<allocated_at>``
(``schemas.events.history_key``), with a ``ttl`` of its end (or expiry) + ``history_ttl_s``.
Every write is conditional so that a replayed stream record changes nothing: a lease is
opened once, an extension only moves ``expires_at`` later, a lease is closed once. Reads are
one Query per page on the sandbox's partition, newest first.

Checkpoints: ``PK = STREAM#<table>``, ``SK = <shard id>``, the last sequence number whose
changes are fully published. Neither kind of item is a sandbox, so the stream reader skips
their own changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from schemas.events import HISTORY_PK_PREFIX, LeaseEnd, LeaseRecord, history_key
from schemas.items import from_item, to_attr, to_item

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

CHECKPOINT_PK_PREFIX = "STREAM#"


@dataclass(frozen=True)
class OpenLease:
    lease: LeaseRecord


@dataclass(frozen=True)
class ExtendLease:
    sandbox_id: str
    allocated_at: float
    expires_at: float


@dataclass(frozen=True)
class CloseLease:
    sandbox_id: str
    allocated_at: float
    ended_at: float
    end: LeaseEnd


HistoryOp = OpenLease | ExtendLease | CloseLease


def _key(key: dict[str, str]) -> dict[str, Any]:
    return {k: {"S": v} for k, v in key.items()}


class HistoryStore:
    def __init__(self, ddb: DynamoDBClient, *, table: str, ttl_s: int = 90 * 86_400) -> None:
        self._ddb = ddb
        self.table = table
        self.ttl_s = ttl_s

    # writes (the stream reader) ------------------------------------------------------------

    async def apply(self, op: HistoryOp) -> bool:
        """Apply one history write; False when it had been applied already (a replay)."""
        match op:
            case OpenLease(lease=lease):
                values = lease.model_dump()
                values["ttl"] = int((lease.expires_at or lease.allocated_at) + self.ttl_s)
                return await self._conditional(
                    self._ddb.put_item(
                        TableName=self.table,
                        Item={
                            **_key(history_key(lease.sandbox_id, lease.allocated_at)),
                            **to_item(values),
                        },
                        ConditionExpression="attribute_not_exists(PK)",
                    )
                )
            case ExtendLease():
                return await self._conditional(
                    self._ddb.update_item(
                        TableName=self.table,
                        Key=_key(history_key(op.sandbox_id, op.allocated_at)),
                        UpdateExpression=(
                            "SET expires_at = :e, #ttl = :ttl, "
                            "extensions = if_not_exists(extensions, :zero) + :one"
                        ),
                        ConditionExpression=(
                            "attribute_exists(PK) AND attribute_not_exists(ended_at) "
                            "AND (attribute_not_exists(expires_at) OR expires_at < :e)"
                        ),
                        ExpressionAttributeNames={"#ttl": "ttl"},
                        ExpressionAttributeValues={
                            ":e": to_attr(op.expires_at),
                            ":ttl": to_attr(int(op.expires_at + self.ttl_s)),
                            ":zero": {"N": "0"},
                            ":one": {"N": "1"},
                        },
                    )
                )
            case CloseLease():
                return await self._conditional(
                    self._ddb.update_item(
                        TableName=self.table,
                        Key=_key(history_key(op.sandbox_id, op.allocated_at)),
                        UpdateExpression="SET ended_at = :t, #end = :end, #ttl = :ttl",
                        # a lease whose opening was never seen (older than the stream) is
                        # still recorded by its end
                        ConditionExpression="attribute_not_exists(ended_at)",
                        ExpressionAttributeNames={"#end": "end", "#ttl": "ttl"},
                        ExpressionAttributeValues={
                            ":t": to_attr(op.ended_at),
                            ":end": {"S": op.end},
                            ":ttl": to_attr(int(op.ended_at + self.ttl_s)),
                        },
                    )
                )

    async def _conditional(self, call: Any) -> bool:
        try:
            await call
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    # reads (the history route and `pool history`) ----------------------------------------

    async def page(
        self, sandbox_id: str, *, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[LeaseRecord], dict[str, Any] | None]:
        """Up to ``limit`` leases of the sandbox, newest first, and where to continue."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"{HISTORY_PK_PREFIX}{sandbox_id}"}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        resp = await self._ddb.query(**kwargs)
        items = [_lease(from_item(i)) for i in resp.get("Items", [])]
        return items, cast(dict[str, Any] | None, resp.get("LastEvaluatedKey"))

    # checkpoints ------------------------------------------------------------------------

    def _checkpoint_key(self, shard_id: str) -> dict[str, Any]:
        return _key({"PK": f"{CHECKPOINT_PK_PREFIX}{self.table}", "SK": shard_id})

    async def checkpoint(self, shard_id: str) -> str | None:
        resp = await self._ddb.get_item(
            TableName=self.table, Key=self._checkpoint_key(shard_id), ConsistentRead=True
        )
        item = resp.get("Item")
        return str(item["sequence_number"]["S"]) if item else None

    async def save_checkpoint(self, shard_id: str, sequence_number: str) -> None:
        await self._ddb.put_item(
            TableName=self.table,
            Item={
                **self._checkpoint_key(shard_id),
                "sequence_number": {"S": sequence_number},
            },
        )


def _lease(values: dict[str, Any]) -> LeaseRecord:
    return LeaseRecord.model_validate(values)
