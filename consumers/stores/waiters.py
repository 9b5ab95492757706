"""Waiting allocations (v2) in the pool table: ``PK = WAIT``, ``SK = <requested_at_ms>#<id>``.

A waiter is written once (conditional on its key: a redelivered allocate finds it there),
read oldest first with a strongly consistent Query, and deleted either in the claim's own
transaction (``delete_item``: conditional on the item still existing, so of several pumps
exactly one serves it) or with its NO_SANDBOXES_AVAILABLE reply at its deadline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import ClientError

from consumers.stores.transactions import cancellation
from schemas.items import from_item, to_item
from schemas.messages import AllocateMessage
from schemas.pool import WAIT_PK, waiter_key

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Waiter:
    key: dict[str, str]
    message: AllocateMessage
    #: epoch seconds: requested_at + wait_for_sandbox_s
    deadline: float


def _key(key: dict[str, str]) -> dict[str, Any]:
    return {k: {"S": v} for k, v in key.items()}


def key_of(message: AllocateMessage) -> dict[str, str]:
    return waiter_key(round(message.requested_at.timestamp() * 1000), message.request_id)


def deadline_of(message: AllocateMessage) -> float:
    return message.requested_at.timestamp() + message.wait_for_sandbox_s


class WaiterStore:
    def __init__(self, ddb: DynamoDBClient, *, table: str) -> None:
        self._ddb = ddb
        self.table = table

    async def add(self, message: AllocateMessage) -> Waiter:
        """Store the waiter (a second add of the same request changes nothing)."""
        waiter = Waiter(key_of(message), message, deadline_of(message))
        item = to_item(
            {
                "request_id": message.request_id,
                "track_id": message.track_id,
                "tenant": message.tenant,
                "deadline": waiter.deadline,
                "message": message.model_dump_json(),
            }
        )
        try:
            await self._ddb.put_item(
                TableName=self.table,
                Item={**_key(waiter.key), **item},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        return waiter

    async def oldest(self, *, page_size: int = 500) -> AsyncIterator[Waiter]:
        """Every waiter, oldest first (strongly consistent, page by page)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :w",
            "ExpressionAttributeValues": {":w": {"S": WAIT_PK}},
            "ConsistentRead": True,
            "Limit": page_size,
        }
        while True:
            resp = await self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                values = from_item(item)
                try:
                    message = AllocateMessage.model_validate_json(values["message"])
                except (KeyError, ValueError) as exc:  # never starve the rest on one item
                    log.error("waiter_unreadable", key=values.get("SK"), error=str(exc)[:200])
                    continue
                yield Waiter(
                    {"PK": values["PK"], "SK": values["SK"]}, message, float(values["deadline"])
                )
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def delete_item(self, waiter: Waiter) -> dict[str, Any]:
        """The transact Delete that serves ``waiter`` once: refused when it is gone."""
        return {
            "Delete": {
                "TableName": self.table,
                "Key": _key(waiter.key),
                "ConditionExpression": "attribute_exists(PK)",
            }
        }

    async def remove(self, waiter: Waiter) -> None:
        """Delete the waiter (already answered); absent is fine."""
        await self._ddb.delete_item(TableName=self.table, Key=_key(waiter.key))

    async def answer(self, waiter: Waiter, reply: dict[str, Any]) -> bool:
        """Write ``reply`` (a transact Put) and delete the waiter in one transaction; False
        when either was refused (another pump answered it, or the reply stands already),
        after which the waiter is deleted anyway: its request has its terminal reply."""
        try:
            await self._ddb.transact_write_items(
                TransactItems=[reply, self.delete_item(waiter)]  # type: ignore[list-item]
            )
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None or "TransactionConflict" in cancelled.codes:
                raise
            await self.remove(waiter)
            return False
        return True
