"""What DynamoDB says when it cancels a ``TransactWriteItems``, read in one place.

A cancelled transaction answers ``TransactionCanceledException`` with one
``CancellationReasons`` entry per item, in request order: ``None`` for an item that was
fine, ``ConditionalCheckFailed`` (with the item when ``ReturnValuesOnConditionCheckFailure``
asked for ``ALL_OLD``; moto may omit it) for a condition that refused, or
``TransactionConflict`` when another transaction held the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn, cast

from botocore.exceptions import ClientError


class StoreConflictError(Exception):
    """A transaction lost a race on an item (TransactionConflict): safe to retry."""


@dataclass(frozen=True)
class Cancellation:
    """The reasons of a cancelled transaction, one per item in request order."""

    error: ClientError
    reasons: tuple[dict[str, Any], ...]

    @property
    def codes(self) -> list[str]:
        return [r.get("Code", "None") for r in self.reasons]

    def refused(self, index: int) -> bool:
        """The condition of item ``index`` failed."""
        return index < len(self.reasons) and self.codes[index] == "ConditionalCheckFailed"

    def old_item(self, index: int) -> dict[str, Any] | None:
        """Item ``index`` as it stood when its condition failed, when DynamoDB returned it."""
        return self.reasons[index].get("Item") if index < len(self.reasons) else None

    def raise_unexplained(self) -> NoReturn:
        """No condition explains it: a conflict is retryable, anything else is re-raised."""
        codes = self.codes
        if "TransactionConflict" in codes:
            raise StoreConflictError(str(codes)) from self.error
        raise self.error


def cancellation(exc: ClientError) -> Cancellation | None:
    """The cancellation ``exc`` reports; None when it is another error."""
    if exc.response["Error"]["Code"] != "TransactionCanceledException":
        return None
    reasons = cast(dict[str, Any], exc.response).get("CancellationReasons", [])
    return Cancellation(exc, tuple(reasons))
