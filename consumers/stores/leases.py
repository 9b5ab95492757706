"""Lease edits on the pool table (v2): extend a lease, conditionally, at most once per request.

An extend is one ``TransactWriteItems``: the sandbox's new ``expires_at`` (conditional on
the owner, the allocation and the ``expires_at`` it read, and on this request not having
extended it already: ``last_extend_request_id``), the track pointer's copy of it (so an
idempotent allocate answers the new expiry) and the reply row. A redelivered extend finds
its reply written, or its request id on the item, and never extends twice; an extend that
races another extend or an ``expire`` loses its condition and reads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from consumers.stores.pool import PoolStore, ReplyAlreadyWritten
from consumers.stores.transactions import cancellation
from schemas.items import reply_from_item, sandbox_from_item, to_attr
from schemas.pool import Sandbox, SandboxStatus, sandbox_key, track_key
from schemas.replies import ReplyRecord

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient


def _key(key: dict[str, str]) -> dict[str, Any]:
    return {k: {"S": v} for k, v in key.items()}


@dataclass(frozen=True)
class Extended:
    expires_at: float


@dataclass(frozen=True)
class AlreadyExtended:
    """This request extended the lease already (a redelivery): the lease as it stands."""

    sandbox: Sandbox


@dataclass(frozen=True)
class LeaseChanged:
    """The lease is not as it was read (another extend, an expire, a release): read again."""


ExtendOutcome = Extended | AlreadyExtended | LeaseChanged | ReplyAlreadyWritten


class LeaseStore:
    """Conditional lease edits; reads go through the pool store."""

    def __init__(self, pool: PoolStore, ddb: DynamoDBClient) -> None:
        self.pool = pool
        self._ddb = ddb

    async def extend(
        self,
        read: Sandbox,
        *,
        expires_at: float,
        request_id: str,
        now: float,
        reply: ReplyRecord,
        with_pointer: bool = True,
    ) -> ExtendOutcome:
        """Move ``read``'s lease to ``expires_at`` if it is still exactly as read."""
        assert read.allocated_to_track is not None
        condition = (
            "#st = :allocated AND allocated_to_track = :t AND allocated_at = :at "
            "AND (attribute_not_exists(last_extend_request_id) OR last_extend_request_id <> :rid)"
        )
        values: dict[str, Any] = {
            ":allocated": {"S": SandboxStatus.ALLOCATED.value},
            ":t": {"S": read.allocated_to_track},
            ":at": to_attr(read.allocated_at),
            ":rid": {"S": request_id},
            ":new": to_attr(expires_at),
            ":now": to_attr(now),
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
        }
        if read.expires_at is None:
            condition += " AND attribute_not_exists(expires_at)"
        else:
            condition += " AND expires_at = :old"
            values[":old"] = to_attr(read.expires_at)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.pool.table,
                    "Key": _key(sandbox_key(read.sandbox_id)),
                    "UpdateExpression": (
                        "SET expires_at = :new, last_extend_request_id = :rid, "
                        "updated_at = :now, extensions = if_not_exists(extensions, :zero) + :one"
                    ),
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#st": "status"},
                    "ExpressionAttributeValues": values,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            self.pool.replies.put_transact_item(reply),
        ]
        if with_pointer:
            items.append(
                {
                    "Update": {
                        "TableName": self.pool.table,
                        "Key": _key(track_key(read.tenant, read.allocated_to_track)),
                        "UpdateExpression": "SET expires_at = :new",
                        # absent (an adopted allocation) fails too: the caller retries without
                        "ConditionExpression": "sandbox_id = :sid",
                        "ExpressionAttributeValues": {
                            ":sid": {"S": read.sandbox_id},
                            ":new": to_attr(expires_at),
                        },
                    }
                }
            )
        try:
            await self._ddb.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None:
                raise
            if cancelled.refused(1):
                old = cancelled.old_item(1)
                existing = reply_from_item(old) if old else await self.pool.replies.get(request_id)
                if existing is not None:
                    return ReplyAlreadyWritten(existing)
            if cancelled.refused(0):
                old = cancelled.old_item(0)
                current = (
                    sandbox_from_item(old) if old else await self.pool.get_sandbox(read.sandbox_id)
                )
                if current is not None and current.last_extend_request_id == request_id:
                    return AlreadyExtended(current)
                return LeaseChanged()
            if with_pointer and cancelled.refused(2):
                return await self.extend(
                    read,
                    expires_at=expires_at,
                    request_id=request_id,
                    now=now,
                    reply=reply,
                    with_pointer=False,
                )
            cancelled.raise_unexplained()
        return Extended(expires_at)
