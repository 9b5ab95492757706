"""Table items on the wire: Python values <-> DynamoDB attribute values.

The tables' layout is part of the contract (CONTRACT.md "Tables"), so their encoding lives
beside the models both sides import: the consumers write items, the gateway and operator
tools read them. Pure functions (boto3's serializer, floats as Decimal), no I/O.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from schemas.pool import Sandbox
from schemas.replies import ReplyRecord

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_decimal(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        # repr is the shortest string that round-trips: 1732345678.123, not its binary tail.
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_decimal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_decimal(v) for v in value]
    return value


def _from_decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_decimal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_decimal(v) for v in value]
    return value


def to_attr(value: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = _serializer.serialize(_to_decimal(value))
    return serialized


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Serialise a dict, dropping None values (absent attributes, never NULL GSI keys)."""
    return {k: to_attr(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_decimal(_deserializer.deserialize(v)) for k, v in item.items()}


def reply_item(record: ReplyRecord) -> dict[str, Any]:
    """A replies-table row (``PK request_id``) for a reply record."""
    return to_item(record.model_dump(mode="json"))


def reply_from_item(item: dict[str, Any]) -> ReplyRecord:
    return ReplyRecord.model_validate(from_item(item))


def sandbox_from_item(item: dict[str, Any]) -> Sandbox:
    """A pool item (``PK SBX#<id>``, ``SK META``) as a Sandbox; unknown attributes ignored."""
    return Sandbox.model_validate(from_item(item))
