"""The sandbox pool table: candidates, claims and releases, all conditional.

(Over 400 lines: every conditional write on the pool table, so that the conditions that
keep a sandbox single can be read side by side.)

Every state change is a conditional write. A claim is one ``TransactWriteItems`` that moves
the sandbox to ``allocated``, creates the track's pointer item (``TRACK#<id>``/``CURRENT``:
at most one per track, read strongly consistent for idempotency) and writes the reply row,
so the outcome, the ownership and the answer become durable together or not at all.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import structlog
from botocore.exceptions import ClientError

from consumers.stores.replies import ReplyStore
from consumers.stores.spread import CandidateSpread
from consumers.stores.status_index import count_leases, count_status, status_query
from consumers.stores.transactions import Cancellation, StoreConflictError, cancellation
from schemas.ids import DEFAULT_TENANT
from schemas.items import from_item, reply_from_item, sandbox_from_item, to_attr, to_item
from schemas.pool import (
    TOMBSTONE_TTL_S,
    Sandbox,
    SandboxStatus,
    lease_marker_key,
    sandbox_key,
    tombstone_key,
    track_key,
)
from schemas.replies import ReplyRecord

__all__ = [
    "CandidateGone",
    "ClaimOutcome",
    "Claimed",
    "ExtraRefused",
    "PoolStore",
    "RefusalOutcome",
    "Refused",
    "ReleaseOutcome",
    "ReleaseRefused",
    "Released",
    "ReplyAlreadyWritten",
    "StoreConflictError",
    "TrackAlreadyHasSandbox",
    "TrackPointer",
]

log = structlog.get_logger(__name__)

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient


def _key(key: dict[str, str]) -> dict[str, Any]:
    return {k: {"S": v} for k, v in key.items()}


@dataclass(frozen=True)
class TrackPointer:
    """The track's current sandbox, as written with the claim."""

    track_id: str
    sandbox_id: str
    name: str
    external_id: str
    allocated_at: float
    expires_at: float
    request_id: str


# Claim outcomes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    sandbox_id: str


@dataclass(frozen=True)
class TrackAlreadyHasSandbox:
    pointer: TrackPointer


@dataclass(frozen=True)
class ReplyAlreadyWritten:
    reply: ReplyRecord


@dataclass(frozen=True)
class CandidateGone:
    """Someone else claimed it first (or it changed state): move to the next candidate."""


@dataclass(frozen=True)
class ExtraRefused:
    """An item the caller added to the claim refused (v2: the waiter was served already)."""


ClaimOutcome = Claimed | TrackAlreadyHasSandbox | ReplyAlreadyWritten | CandidateGone | ExtraRefused


# Release outcomes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Released:
    sandbox_id: str


@dataclass(frozen=True)
class ReleaseRefused:
    """The condition failed: the sandbox as it stands (None when it does not exist)."""

    current: Sandbox | None


ReleaseOutcome = Released | ReleaseRefused | ReplyAlreadyWritten


@dataclass(frozen=True)
class Refused:
    """The refusal's reply is written: the track had no sandbox and no reply existed."""


RefusalOutcome = Refused | TrackAlreadyHasSandbox | ReplyAlreadyWritten


async def _applied(call: Awaitable[object]) -> bool:
    """Run a conditional write: True when it applied, False when its condition refused it."""
    try:
        await call
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


class PoolStore:
    """Reads and conditional writes on the pool table (and the reply row in a claim)."""

    def __init__(
        self,
        ddb: DynamoDBClient,
        *,
        table: str,
        replies: ReplyStore,
        rng: random.Random | None = None,
    ) -> None:
        self._ddb = ddb
        self.table = table
        self.replies = replies
        self._spread = CandidateSpread(rng)

    # reads ------------------------------------------------------------------------------

    async def candidate_page(
        self,
        *,
        name_prefix: str | None,
        limit: int,
        start_key: dict[str, Any] | None = None,
    ) -> tuple[list[Sandbox], dict[str, Any] | None]:
        """One page of ``available`` sandboxes from StatusIndex (eventually consistent).

        A first page (no ``start_key``) starts at a random point of the index and the
        listing wraps round (``consumers/stores/spread.py``), so that consumers in
        different processes read different pages; the store's first listing learns the
        shape of the ids from a one-item read.
        """
        if start_key is None and self._spread.wants_sample:
            await self._learn_id_shape()  # one item, once, so that even page 1 is spread
        position = self._spread.position(start_key)
        kwargs = status_query(self.table, SandboxStatus.AVAILABLE) | {"Limit": limit}
        if name_prefix:
            kwargs["FilterExpression"] = "begins_with(#n, :p)"
            kwargs["ExpressionAttributeNames"]["#n"] = "name"
            kwargs["ExpressionAttributeValues"][":p"] = {"S": name_prefix}
        if position.exclusive_start_key:
            kwargs["ExclusiveStartKey"] = position.exclusive_start_key
        try:
            resp = await self._ddb.query(**kwargs)
        except ClientError as exc:
            # The random start names no item. moto and, as documented, DynamoDB take any key
            # of the right shape as a position; should an endpoint refuse it, list from the
            # beginning (every consumer then starts at page one: more conflicts, same
            # answers) rather than fail the allocation.
            refused = exc.response["Error"]["Code"] == "ValidationException"
            if not (position.random_start and refused):
                raise
            log.warning("candidate_spread_refused", error=str(exc)[:200])
            self._spread.refuse()
            return await self.candidate_page(name_prefix=name_prefix, limit=limit)
        items = [sandbox_from_item(i) for i in resp.get("Items", [])]
        if items:
            self._spread.saw(items[-1].sandbox_id)
        return items, self._spread.continuation(position, resp.get("LastEvaluatedKey"))

    async def _learn_id_shape(self) -> None:
        query = status_query(self.table, SandboxStatus.AVAILABLE) | {"Limit": 1}
        resp = await self._ddb.query(**query)
        items = resp.get("Items", [])
        self._spread.sampled(sandbox_from_item(items[0]).sandbox_id if items else None)

    async def query_status(
        self, status: SandboxStatus, *, page_size: int = 100, before: float | None = None
    ) -> AsyncIterator[Sandbox]:
        """Every sandbox in one status (optionally allocated_at < before), page by page."""
        kwargs = status_query(self.table, status) | {"Limit": page_size}
        if before is not None:
            kwargs["KeyConditionExpression"] += " AND allocated_at < :b"
            kwargs["ExpressionAttributeValues"][":b"] = to_attr(before)
        while True:
            resp = await self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                yield sandbox_from_item(item)
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    async def count_active(self, tenant: str) -> int:
        """The tenant's leases (v2 quota): ``count_leases`` on its lease markers."""
        return await count_leases(self._ddb, table=self.table, tenant=tenant)

    async def count(self, status: SandboxStatus) -> int:
        """How many sandboxes are in one status (Query COUNT on StatusIndex, no Scan)."""
        return await count_status(self._ddb, table=self.table, status=status)

    async def get_sandbox(self, sandbox_id: str) -> Sandbox | None:
        resp = await self._ddb.get_item(
            TableName=self.table, Key=_key(sandbox_key(sandbox_id)), ConsistentRead=True
        )
        item = resp.get("Item")
        return sandbox_from_item(item) if item else None

    async def get_pointer(
        self, track_id: str, *, tenant: str = DEFAULT_TENANT
    ) -> TrackPointer | None:
        resp = await self._ddb.get_item(
            TableName=self.table, Key=_key(track_key(tenant, track_id)), ConsistentRead=True
        )
        item = resp.get("Item")
        return _pointer(from_item(item)) if item else None

    # writes -----------------------------------------------------------------------------

    async def refuse(
        self, track_id: str, *, reply: ReplyRecord, tenant: str = DEFAULT_TENANT
    ) -> RefusalOutcome:
        """Write a refusal's reply unless the track holds a sandbox: one transaction.

        A ConditionCheck that the track has no pointer, and the reply's conditional Put —
        instead of a pointer read and then a reply write. When the track has a sandbox the
        pointer comes back with the cancellation (the caller answers with it).
        """
        try:
            await self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": _key(track_key(tenant, track_id)),
                            "ConditionExpression": "attribute_not_exists(PK)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    self.replies.put_transact_item(reply),  # type: ignore[list-item]
                ]
            )
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None or len(cancelled.reasons) != 2:
                raise
            if cancelled.refused(1):
                old = cancelled.old_item(1)
                existing = reply_from_item(old) if old else await self.replies.get(reply.request_id)
                if existing is not None:
                    return ReplyAlreadyWritten(existing)
            if cancelled.refused(0):
                old = cancelled.old_item(0)
                pointer = (
                    _pointer(from_item(old))
                    if old
                    else await self.get_pointer(track_id, tenant=tenant)
                )
                if pointer is not None:
                    return TrackAlreadyHasSandbox(pointer)
            cancelled.raise_unexplained()
        return Refused()

    async def put_available(self, sandbox: Sandbox) -> bool:
        """Add a sandbox as available unless the item exists; True when it was written."""
        now = time.time()
        values = sandbox.model_dump(exclude={"tenant"})  # an available sandbox has no tenant
        values.update(
            status=SandboxStatus.AVAILABLE.value,
            allocated_at=0,
            created_at=sandbox.created_at or now,
            updated_at=now,
        )
        return await _applied(
            self._ddb.put_item(
                TableName=self.table,
                Item={**_key(sandbox_key(sandbox.sandbox_id)), **to_item(values)},
                ConditionExpression="attribute_not_exists(PK)",
            )
        )

    async def claim(
        self,
        candidate: Sandbox,
        *,
        track_id: str,
        track_name: str | None,
        request_id: str,
        idempotency_key: str | None,
        allocated_at: float,
        expires_at: float,
        reply: ReplyRecord,
        tenant: str = DEFAULT_TENANT,
        extra: Sequence[dict[str, Any]] = (),
    ) -> ClaimOutcome:
        """Claim ``candidate`` for (tenant, track), create its pointer and lease marker and
        write the reply, atomically.

        ``extra`` items join the transaction (v2: the waiter's conditional Delete); one of
        them refusing is ``ExtraRefused``.
        """
        sets = {
            "status": SandboxStatus.ALLOCATED.value,
            "allocated_to_track": track_id,
            "tenant": tenant,
            "track_name": track_name,
            "allocated_at": allocated_at,
            "expires_at": expires_at,
            "idempotency_key": idempotency_key,
            "allocated_by_request": request_id,
            "updated_at": allocated_at,
            # a previous lease's extends are not the new one's
            "last_extend_request_id": None,
            "extensions": None,
        }
        present = {k: v for k, v in sets.items() if v is not None}
        names = {f"#a{i}": k for i, k in enumerate(present)}
        values = {f":a{i}": to_attr(v) for i, v in enumerate(present.values())}
        update = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(present)))
        absent = [k for k, v in sets.items() if v is None]
        if absent:  # a previous owner's optional attributes must not leak to the new one
            for j, k in enumerate(absent):
                names[f"#r{j}"] = k
            update += " REMOVE " + ", ".join(f"#r{j}" for j in range(len(absent)))
        names["#st"] = "status"
        values[":available"] = {"S": SandboxStatus.AVAILABLE.value}
        pointer = {
            **_key(track_key(tenant, track_id)),
            **to_item(
                {
                    "track_id": track_id,
                    "tenant": tenant,
                    "sandbox_id": candidate.sandbox_id,
                    "name": candidate.name,
                    "external_id": candidate.external_id,
                    "allocated_at": allocated_at,
                    "expires_at": expires_at,
                    "request_id": request_id,
                }
            ),
        }
        try:
            await self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(sandbox_key(candidate.sandbox_id)),
                            "UpdateExpression": update,
                            "ConditionExpression": "#st = :available",
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": pointer,
                            "ConditionExpression": "attribute_not_exists(PK)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    self.replies.put_transact_item(reply),  # type: ignore[list-item]
                    self._marker_put(tenant, track_id, candidate.sandbox_id, allocated_at),
                    *extra,  # type: ignore[list-item]
                ]
            )
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None:
                raise
            return await self._claim_failure(
                cancelled,
                track_id=track_id,
                request_id=request_id,
                tenant=tenant,
                extra=len(extra),
            )
        return Claimed(candidate.sandbox_id)

    def _marker_put(self, tenant: str, track_id: str, sandbox_id: str, allocated_at: float) -> Any:
        """The lease marker (``ACTIVE#<tenant>``): counted by ``count_active``. No condition:
        the pointer in the same transaction already keeps it single."""
        values = {"sandbox_id": sandbox_id, "allocated_at": allocated_at}
        return {
            "Put": {
                "TableName": self.table,
                "Item": {**_key(lease_marker_key(tenant, track_id)), **to_item(values)},
            }
        }

    def lease_marker_delete(self, tenant: str, track_id: str) -> Any:
        """The transact Delete of (tenant, track)'s lease marker: every transaction that ends a
        lease (release, expire, force release) includes it, or the quota counts it forever."""
        return {
            "Delete": {"TableName": self.table, "Key": _key(lease_marker_key(tenant, track_id))}
        }

    async def _claim_failure(
        self,
        cancelled: Cancellation,
        *,
        track_id: str,
        request_id: str,
        tenant: str,
        extra: int = 0,
    ) -> ClaimOutcome:
        # the claim's items: candidate, pointer, reply, lease marker, then ``extra``
        if len(cancelled.reasons) != 4 + extra:
            raise cancelled.error
        # Most decisive first: a waiter served elsewhere (v2) was answered there; an answered
        # request stays answered; then one sandbox per track.
        if any(cancelled.refused(4 + i) for i in range(extra)):
            return ExtraRefused()
        if cancelled.refused(2):
            old = cancelled.old_item(2)
            reply = reply_from_item(old) if old else await self.replies.get(request_id)
            if reply is not None:
                return ReplyAlreadyWritten(reply)
        if cancelled.refused(1):
            old = cancelled.old_item(1)
            pointer = (
                _pointer(from_item(old)) if old else await self.get_pointer(track_id, tenant=tenant)
            )
            if pointer is not None:
                return TrackAlreadyHasSandbox(pointer)
        if cancelled.refused(0):
            return CandidateGone()
        cancelled.raise_unexplained()

    async def release(
        self,
        sandbox_id: str,
        *,
        track_id: str,
        now: float,
        reply: ReplyRecord,
        tenant: str = DEFAULT_TENANT,
    ) -> ReleaseOutcome:
        """allocated (to this tenant's track) → pending_deletion, clear the pointer and the
        lease marker, write the reply."""
        owner = "allocated_to_track = :t AND tenant = :tn"
        if tenant == DEFAULT_TENANT:  # v1 items carry no tenant: they are the default's
            owner = "allocated_to_track = :t AND (tenant = :tn OR attribute_not_exists(tenant))"
        try:
            await self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(sandbox_key(sandbox_id)),
                            "UpdateExpression": (
                                "SET #st = :pd, deletion_requested_at = :now, updated_at = :now"
                            ),
                            "ConditionExpression": f"#st = :allocated AND {owner}",
                            "ExpressionAttributeNames": {"#st": "status"},
                            "ExpressionAttributeValues": {
                                ":pd": {"S": SandboxStatus.PENDING_DELETION.value},
                                ":allocated": {"S": SandboxStatus.ALLOCATED.value},
                                ":t": {"S": track_id},
                                ":tn": {"S": tenant},
                                ":now": to_attr(now),
                            },
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _key(track_key(tenant, track_id)),
                            # An adopted table has allocations without pointers: absent is fine.
                            "ConditionExpression": "attribute_not_exists(PK) OR sandbox_id = :sid",
                            "ExpressionAttributeValues": {":sid": {"S": sandbox_id}},
                        }
                    },
                    self.replies.put_transact_item(reply),  # type: ignore[list-item]
                    self.lease_marker_delete(tenant, track_id),
                ]
            )
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None:
                raise
            if len(cancelled.reasons) == 4 and cancelled.refused(2):
                old = cancelled.old_item(2)
                existing = reply_from_item(old) if old else await self.replies.get(reply.request_id)
                if existing is not None:
                    return ReplyAlreadyWritten(existing)
            if len(cancelled.reasons) == 4 and cancelled.refused(0):
                old = cancelled.old_item(0)
                current = sandbox_from_item(old) if old else None
                if old is None:  # moto may omit ALL_OLD: read it (strongly consistent)
                    current = await self.get_sandbox(sandbox_id)
                return ReleaseRefused(current)
            cancelled.raise_unexplained()
        return Released(sandbox_id)

    # lifecycle (jobs) -------------------------------------------------------------------

    async def expire(self, sandbox: Sandbox, *, now: float) -> bool:
        """allocated → pending_deletion for this very allocation; False when it changed first.

        The condition pins the allocation (owner, allocated_at and the expires_at read), so
        a concurrent release, extend (v2) or re-allocation wins and this becomes a no-op.
        """
        assert sandbox.allocated_to_track is not None
        condition = "#st = :allocated AND allocated_to_track = :t AND allocated_at = :at"
        values: dict[str, Any] = {
            ":pd": {"S": SandboxStatus.PENDING_DELETION.value},
            ":allocated": {"S": SandboxStatus.ALLOCATED.value},
            ":t": {"S": sandbox.allocated_to_track},
            ":at": to_attr(sandbox.allocated_at),
            ":now": to_attr(now),
            ":true": {"BOOL": True},
        }
        # v2: and the expiry it read, so that an extend landing first wins
        if sandbox.expires_at is None:
            condition += " AND attribute_not_exists(expires_at)"
        else:
            condition += " AND expires_at = :exp"
            values[":exp"] = to_attr(sandbox.expires_at)
        try:
            await self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(sandbox_key(sandbox.sandbox_id)),
                            "UpdateExpression": (
                                "SET #st = :pd, deletion_requested_at = :now, "
                                "updated_at = :now, expired = :true"
                            ),
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": {"#st": "status"},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _key(track_key(sandbox.tenant, sandbox.allocated_to_track)),
                            "ConditionExpression": "attribute_not_exists(PK) OR sandbox_id = :sid",
                            "ExpressionAttributeValues": {":sid": {"S": sandbox.sandbox_id}},
                        }
                    },
                    self.lease_marker_delete(sandbox.tenant, sandbox.allocated_to_track),
                ]
            )
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None:
                raise
            if cancelled.refused(0):
                return False
            cancelled.raise_unexplained()
        return True

    async def upsert_from_csp(self, sandbox: Sandbox, *, now: float, listed_at: float) -> bool:
        """Create or refresh an available/stale sandbox from the CSP listing begun at
        ``listed_at``.

        Never touches an allocated, pending_deletion or deletion_failed item: the condition
        admits only a missing, available or stale item. Nor does it bring back a sandbox
        removed after its CSP delete at or after ``listed_at`` (its tombstone, checked in
        the same transaction: the listing predates the delete); one the CSP lists again
        in a later listing comes back. False when a condition refused (or another
        transaction held the item: the next sync sees it again).
        """
        update = {
            "TableName": self.table,
            "Key": _key(sandbox_key(sandbox.sandbox_id)),
            "UpdateExpression": (
                "SET sandbox_id = :id, #n = :n, external_id = :e, #st = :available, "
                "allocated_at = :zero, last_synced = :now, updated_at = :now, "
                "created_at = if_not_exists(created_at, :now)"
                + (", sfdc_account_id = :sf" if sandbox.sfdc_account_id else "")
                + " REMOVE stale_since"
            ),
            "ConditionExpression": "attribute_not_exists(PK) OR #st IN (:available, :stale)",
            "ExpressionAttributeNames": {"#st": "status", "#n": "name"},
            "ExpressionAttributeValues": {
                ":id": {"S": sandbox.sandbox_id},
                ":n": {"S": sandbox.name},
                ":e": {"S": sandbox.external_id},
                ":available": {"S": SandboxStatus.AVAILABLE.value},
                ":stale": {"S": SandboxStatus.STALE.value},
                ":zero": {"N": "0"},
                ":now": to_attr(now),
                **({":sf": {"S": sandbox.sfdc_account_id}} if sandbox.sfdc_account_id else {}),
            },
        }
        not_deleted_since = {
            "TableName": self.table,
            "Key": _key(tombstone_key(sandbox.sandbox_id)),
            "ConditionExpression": "attribute_not_exists(PK) OR deleted_at < :listed",
            "ExpressionAttributeValues": {":listed": to_attr(listed_at)},
        }
        try:
            await self._ddb.transact_write_items(
                TransactItems=cast(Any, [{"Update": update}, {"ConditionCheck": not_deleted_since}])
            )
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None:
                raise
            if cancelled.refused(1):
                log.info("sync_skipped_deleted", sandbox_id=sandbox.sandbox_id)
                return False
            if cancelled.refused(0) or "TransactionConflict" in cancelled.codes:
                return False
            cancelled.raise_unexplained()
        return True

    async def mark_stale(self, sandbox_id: str, *, now: float) -> bool:
        """available → stale (the CSP no longer lists it); False when it is no longer available."""
        return await self._conditional_update(
            sandbox_id,
            update="SET #st = :stale, stale_since = :now, updated_at = :now",
            condition="#st = :available",
            values={
                ":stale": {"S": SandboxStatus.STALE.value},
                ":available": {"S": SandboxStatus.AVAILABLE.value},
                ":now": to_attr(now),
            },
        )

    async def delete_stale(self, sandbox: Sandbox) -> bool:
        """Remove a stale item, only if it is still stale since the same moment."""
        condition = "#st = :stale"
        values: dict[str, Any] = {":stale": {"S": SandboxStatus.STALE.value}}
        if sandbox.stale_since is not None:
            condition += " AND stale_since = :since"
            values[":since"] = to_attr(sandbox.stale_since)
        return await self._conditional_delete(sandbox.sandbox_id, condition, values)

    async def delete_deleted(
        self, sandbox_id: str, *, deleted_at: float, reply: dict[str, Any] | None = None
    ) -> tuple[bool, bool]:
        """Remove an item the CSP has deleted (only from pending_deletion/deletion_failed),
        leaving its tombstone (``deleted_at``: when the CSP delete had returned) in the same
        transaction, so that a sync that listed the CSP before then cannot bring it back.

        With ``reply`` (a transact Put of the job's reply row) the removal and the reply are
        one TransactWriteItems: the outcome and its answer become durable together, in one
        call instead of two. Returns (removed, reply written); when the transaction is
        refused the removal is tried without the reply and the caller writes it itself.
        """
        delete = {
            "Delete": {
                "TableName": self.table,
                "Key": _key(sandbox_key(sandbox_id)),
                "ConditionExpression": "#st IN (:pd, :df)",
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": {
                    ":pd": {"S": SandboxStatus.PENDING_DELETION.value},
                    ":df": {"S": SandboxStatus.DELETION_FAILED.value},
                },
            }
        }
        tombstone = {
            "Put": {
                "TableName": self.table,
                "Item": {
                    **_key(tombstone_key(sandbox_id)),
                    **to_item(
                        {
                            "sandbox_id": sandbox_id,
                            "deleted_at": deleted_at,
                            "ttl": int(deleted_at + TOMBSTONE_TTL_S),
                        }
                    ),
                },
            }
        }
        if reply is not None:
            try:
                await self._ddb.transact_write_items(
                    TransactItems=cast(Any, [delete, tombstone, reply])
                )
            except ClientError as exc:
                if cancellation(exc) is None:
                    raise
                # the item changed, or a terminal reply exists: settle each on its own
            else:
                return True, True
        try:
            await self._ddb.transact_write_items(TransactItems=cast(Any, [delete, tombstone]))
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None:
                raise
            if cancelled.refused(0):
                return False, False
            cancelled.raise_unexplained()
        return True, False

    async def record_deletion_failure(
        self,
        sandbox_id: str,
        *,
        error: str,
        give_up: bool,
        next_attempt_at: float,
        now: float,
        quarantine: bool = False,
    ) -> bool:
        """Count a failed CSP delete; after the last retry the item becomes deletion_failed,
        and with ``quarantine`` (v2: ``quarantine_after`` failures in a row) quarantined."""
        status = SandboxStatus.DELETION_FAILED if give_up else SandboxStatus.PENDING_DELETION
        update = (
            "SET #st = :status, deletion_last_error = :err, updated_at = :now, "
            "deletion_next_attempt_at = :next, "
            "deletion_retry_count = if_not_exists(deletion_retry_count, :zero) + :one"
        )
        values: dict[str, Any] = {}
        if quarantine:
            status = SandboxStatus.QUARANTINED
            update += ", quarantine_reason = :why, quarantined_at = :now"
            values[":why"] = {"S": f"deletion failed repeatedly; last error: {error}"[:500]}
        return await self._conditional_update(
            sandbox_id,
            update=update,
            condition="#st IN (:pd, :df)",
            values={
                **values,
                ":status": {"S": status.value},
                ":err": {"S": error[:500]},
                ":now": to_attr(now),
                ":next": to_attr(next_attempt_at),
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
                ":pd": {"S": SandboxStatus.PENDING_DELETION.value},
                ":df": {"S": SandboxStatus.DELETION_FAILED.value},
            },
        )

    async def _conditional_update(
        self, sandbox_id: str, *, update: str, condition: str, values: dict[str, Any]
    ) -> bool:
        return await _applied(
            self._ddb.update_item(
                TableName=self.table,
                Key=_key(sandbox_key(sandbox_id)),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues=values,
            )
        )

    async def _conditional_delete(
        self, sandbox_id: str, condition: str, values: dict[str, Any]
    ) -> bool:
        return await _applied(
            self._ddb.delete_item(
                TableName=self.table,
                Key=_key(sandbox_key(sandbox_id)),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues=values,
            )
        )


def _pointer(values: dict[str, Any]) -> TrackPointer:
    return TrackPointer(
        track_id=values["track_id"],
        sandbox_id=values["sandbox_id"],
        name=values["name"],
        external_id=values["external_id"],
        allocated_at=float(values["allocated_at"]),
        expires_at=float(values["expires_at"]),
        request_id=values["request_id"],
    )
