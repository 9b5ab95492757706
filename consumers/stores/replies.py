"""The replies table: one row per request, written once its outcome is durable.

A terminal row is never replaced by a different outcome. The one exception is a failed
``DEAD_LETTERED`` row, which a replayed message may overwrite with its real outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from schemas.errors import ErrorCode
from schemas.items import reply_from_item, reply_item
from schemas.replies import ReplyRecord, ReplyStatus

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

#: A reply row may be (re)written when absent, pending, or dead-lettered (a replay's outcome).
WRITABLE_CONDITION = "attribute_not_exists(request_id) OR #rs = :pending OR #re.#rc = :dead"
WRITABLE_NAMES = {"#rs": "status", "#re": "error", "#rc": "code"}
WRITABLE_VALUES = {
    ":pending": {"S": ReplyStatus.PENDING.value},
    ":dead": {"S": ErrorCode.DEAD_LETTERED.value},
}


#: No terminal reply yet: what the DLQ sweep may answer.
UNANSWERED_CONDITION = "attribute_not_exists(request_id) OR #rs = :pending"


class ReplyStore:
    """Reads and conditionally writes reply rows."""

    def __init__(self, ddb: DynamoDBClient, *, table: str) -> None:
        self._ddb = ddb
        self.table = table

    def put_transact_item(self, record: ReplyRecord) -> dict[str, Any]:
        """The conditional Put for a TransactWriteItems call (reply written with the claim)."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": reply_item(record),
                "ConditionExpression": WRITABLE_CONDITION,
                "ExpressionAttributeNames": WRITABLE_NAMES,
                "ExpressionAttributeValues": WRITABLE_VALUES,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    async def put(self, record: ReplyRecord) -> ReplyRecord:
        """Write a reply unless a terminal one exists; return the row that stands."""
        try:
            await self._ddb.put_item(
                TableName=self.table,
                Item=reply_item(record),
                ConditionExpression=WRITABLE_CONDITION,
                ExpressionAttributeNames=WRITABLE_NAMES,
                ExpressionAttributeValues=cast(Any, WRITABLE_VALUES),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = cast(dict[str, Any], exc.response).get("Item")
            return reply_from_item(old) if old else await self._must_get(record.request_id)
        return record

    async def put_if_unanswered(self, record: ReplyRecord) -> bool:
        """Write a reply only where none is terminal yet (no row, or a pending one).

        Unlike ``put`` it never replaces a ``DEAD_LETTERED`` row: the DLQ sweep uses it, and
        a row that is dead-lettered already says the same thing.
        """
        try:
            await self._ddb.put_item(
                TableName=self.table,
                Item=reply_item(record),
                ConditionExpression=UNANSWERED_CONDITION,
                ExpressionAttributeNames={"#rs": "status"},
                ExpressionAttributeValues={":pending": {"S": ReplyStatus.PENDING.value}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    async def get(self, request_id: str) -> ReplyRecord | None:
        resp = await self._ddb.get_item(
            TableName=self.table, Key={"request_id": {"S": request_id}}, ConsistentRead=True
        )
        item = resp.get("Item")
        return reply_from_item(item) if item else None

    async def _must_get(self, request_id: str) -> ReplyRecord:
        found = await self.get(request_id)
        if found is None:  # the condition failed on a row that vanished: TTL raced us
            raise RuntimeError(f"reply {request_id} changed under a conditional write")
        return found
