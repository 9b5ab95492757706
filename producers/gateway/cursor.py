"""The opaque paging cursor of ``GET /v1/admin/sandboxes``: signed, so forgeries are refused.

A cursor is ``<payload>.<signature>``, both base64url without padding. The payload is JSON
of the status filter (or null), the position in the fixed status walk, and DynamoDB's
``LastEvaluatedKey`` for that status (or null to start it). The signature is an HMAC-SHA256
with a key derived from the admin token, so every gateway replica (and a restarted one)
accepts the cursors of the others, and rotating the token retires old cursors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

#: Bytes of the HMAC kept in a cursor: 128 bits is far beyond guessing, and keeps it short.
SIGNATURE_BYTES = 16


class CursorError(ValueError):
    """The cursor was not made by this gateway (garbled, forged, or for another filter)."""


@dataclass(frozen=True)
class Cursor:
    status_filter: str | None
    position: int
    start_key: dict[str, Any] | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise CursorError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CursorError("not base64url") from None


def _is_key(value: object) -> bool:
    """A DynamoDB key as Query returns it: names to single-typed S or N values."""
    if not isinstance(value, dict) or not value:
        return False
    for name, attr in value.items():
        if not isinstance(name, str) or not isinstance(attr, dict) or len(attr) != 1:
            return False
        ((kind, raw),) = attr.items()
        if kind not in {"S", "N"} or not isinstance(raw, str):
            return False
    return True


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_secret(cls, secret: str) -> CursorCodec:
        return cls(hashlib.sha256(b"sandbox-broker/cursor/v1\x00" + secret.encode()).digest())

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def encode(self, cursor: Cursor) -> str:
        payload = json.dumps(
            {"f": cursor.status_filter, "p": cursor.position, "k": cursor.start_key},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, text: str, *, status_filter: str | None, positions: int) -> Cursor:
        """Verify and read a cursor made for this same filter; CursorError otherwise."""
        body, dot, sig = text.partition(".")
        if not dot:
            raise CursorError("malformed cursor")
        payload = _unb64(body)
        if not hmac.compare_digest(self._sign(payload), _unb64(sig)):
            raise CursorError("cursor signature does not match")
        try:
            data = json.loads(payload)
        except ValueError:
            raise CursorError("malformed cursor") from None
        if not isinstance(data, dict) or set(data) != {"f", "p", "k"}:
            raise CursorError("malformed cursor")
        position, start_key = data["p"], data["k"]
        if data["f"] != status_filter:
            raise CursorError("cursor belongs to another status filter")
        if type(position) is not int or not 0 <= position < positions:
            raise CursorError("malformed cursor")
        if start_key is not None and not _is_key(start_key):
            raise CursorError("malformed cursor")
        return Cursor(status_filter=data["f"], position=position, start_key=start_key)
