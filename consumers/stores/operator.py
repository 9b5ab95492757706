"""The operator verbs' conditional writes on the pool table (v2: retry, quarantine, release).

Each write is conditional on the states the verb may act on and stamps the item with the
operator's request id (``operator_request``), so a redelivered job finds its own stamp and
answers the same success instead of a refusal. A forced release clears the track's pointer
and lease marker in the same transaction as the status change, as a track's release does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from botocore.exceptions import ClientError

from consumers.stores.transactions import cancellation
from schemas.items import sandbox_from_item, to_attr
from schemas.pool import Sandbox, SandboxStatus, lease_marker_key, sandbox_key, track_key

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

#: From which statuses each verb may act (CONTRACT.md "Quarantine and operator verbs").
RETRY_FROM: Final = frozenset({SandboxStatus.QUARANTINED, SandboxStatus.DELETION_FAILED})
QUARANTINE_FROM: Final = frozenset(
    {
        SandboxStatus.AVAILABLE,
        SandboxStatus.PENDING_DELETION,
        SandboxStatus.STALE,
        SandboxStatus.DELETION_FAILED,
    }
)
RELEASE_FROM: Final = frozenset({SandboxStatus.ALLOCATED})
#: ``lease_end`` of a lease an operator ended (the history's ``end``).
FORCED: Final = "forced"


def _key(sandbox_id: str) -> dict[str, Any]:
    return {k: {"S": v} for k, v in sandbox_key(sandbox_id).items()}


@dataclass(frozen=True)
class Applied:
    """The verb changed the sandbox (``idempotent``: this very request had already)."""

    sandbox: Sandbox | None
    idempotent: bool = False


@dataclass(frozen=True)
class Refused:
    """The sandbox is missing (None) or in a status the verb does not act on."""

    current: Sandbox | None


OperatorOutcome = Applied | Refused


class OperatorStore:
    """The three verbs; every write conditional on the status it acts on."""

    def __init__(self, ddb: DynamoDBClient, *, table: str) -> None:
        self._ddb = ddb
        self.table = table

    async def get(self, sandbox_id: str) -> Sandbox | None:
        resp = await self._ddb.get_item(
            TableName=self.table, Key=_key(sandbox_id), ConsistentRead=True
        )
        item = resp.get("Item")
        return sandbox_from_item(item) if item else None

    async def retry(
        self, sandbox_id: str, *, request_id: str, reason: str, now: float
    ) -> OperatorOutcome:
        """quarantined / deletion_failed → pending_deletion, failure count reset."""
        return await self._update(
            sandbox_id,
            request_id=request_id,
            allowed=RETRY_FROM,
            update=(
                "SET #st = :to, deletion_requested_at = :now, updated_at = :now, "
                "deletion_retry_count = :zero, operator_request = :req, operator_reason = :why "
                "REMOVE deletion_next_attempt_at, quarantine_reason, quarantined_at"
            ),
            values={
                ":to": {"S": SandboxStatus.PENDING_DELETION.value},
                ":zero": {"N": "0"},
                ":now": to_attr(now),
                ":req": {"S": request_id},
                ":why": {"S": reason},
            },
        )

    async def quarantine(
        self, sandbox_id: str, *, request_id: str, reason: str, now: float
    ) -> OperatorOutcome:
        """Any sandbox that is not allocated (nor quarantined already) → quarantined."""
        return await self._update(
            sandbox_id,
            request_id=request_id,
            allowed=QUARANTINE_FROM,
            update=(
                "SET #st = :to, quarantine_reason = :why, quarantined_at = :now, "
                "updated_at = :now, operator_request = :req, operator_reason = :why"
            ),
            values={
                ":to": {"S": SandboxStatus.QUARANTINED.value},
                ":now": to_attr(now),
                ":req": {"S": request_id},
                ":why": {"S": reason},
            },
        )

    async def force_release(
        self, sandbox: Sandbox, *, request_id: str, reason: str, now: float
    ) -> OperatorOutcome:
        """allocated → pending_deletion for this very lease; pointer and lease marker deleted."""
        track = sandbox.allocated_to_track
        if sandbox.status is not SandboxStatus.ALLOCATED or track is None:
            if sandbox.operator_request == request_id:
                return Applied(sandbox, idempotent=True)  # a redelivery of the job that applied
            return Refused(sandbox)
        pointer = {k: {"S": v} for k, v in track_key(sandbox.tenant, track).items()}
        marker = {k: {"S": v} for k, v in lease_marker_key(sandbox.tenant, track).items()}
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(sandbox.sandbox_id),
                    "UpdateExpression": (
                        "SET #st = :pd, deletion_requested_at = :now, updated_at = :now, "
                        "lease_end = :forced, operator_request = :req, operator_reason = :why"
                    ),
                    "ConditionExpression": (
                        "#st = :allocated AND allocated_to_track = :t AND allocated_at = :at"
                    ),
                    "ExpressionAttributeNames": {"#st": "status"},
                    "ExpressionAttributeValues": {
                        ":pd": {"S": SandboxStatus.PENDING_DELETION.value},
                        ":allocated": {"S": SandboxStatus.ALLOCATED.value},
                        ":t": {"S": track},
                        ":at": to_attr(sandbox.allocated_at),
                        ":now": to_attr(now),
                        ":forced": {"S": FORCED},
                        ":req": {"S": request_id},
                        ":why": {"S": reason},
                    },
                }
            },
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": pointer,
                    "ConditionExpression": "attribute_not_exists(PK) OR sandbox_id = :sid",
                    "ExpressionAttributeValues": {":sid": {"S": sandbox.sandbox_id}},
                }
            },
            {"Delete": {"TableName": self.table, "Key": marker}},
        ]
        try:
            await self._ddb.transact_write_items(TransactItems=cast(Any, items))
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None:
                raise
            if cancelled.refused(0):
                return await self._refusal(sandbox.sandbox_id, request_id)
            cancelled.raise_unexplained()
        return Applied(await self.get(sandbox.sandbox_id))

    async def _update(
        self,
        sandbox_id: str,
        *,
        request_id: str,
        allowed: frozenset[SandboxStatus],
        update: str,
        values: dict[str, Any],
    ) -> OperatorOutcome:
        states = {f":from{i}": {"S": s.value} for i, s in enumerate(sorted(allowed))}
        try:
            resp = await self._ddb.update_item(
                TableName=self.table,
                Key=_key(sandbox_id),
                UpdateExpression=update,
                ConditionExpression=f"#st IN ({', '.join(states)})",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={**values, **states},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return await self._refusal(sandbox_id, request_id)
        return Applied(sandbox_from_item(resp["Attributes"]))

    async def _refusal(self, sandbox_id: str, request_id: str) -> OperatorOutcome:
        current = await self.get(sandbox_id)
        if current is not None and current.operator_request == request_id:
            return Applied(current, idempotent=True)  # a redelivery of the job that applied
        return Refused(current)
