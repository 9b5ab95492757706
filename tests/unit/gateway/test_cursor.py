"""The paging cursor round-trips, and anything not made by the gateway is refused."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.gateway.cursor import Cursor, CursorCodec, CursorError

CODEC = CursorCodec.from_secret("admin-secret")
KEY = {
    "PK": {"S": "SBX#sbx-00001"},
    "SK": {"S": "META"},
    "status": {"S": "available"},
    "allocated_at": {"N": "0"},
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(None, 0, None),
        Cursor(None, 4, KEY),
        Cursor("allocated", 0, {**KEY, "allocated_at": {"N": "1732345678.123"}}),
    ],
)
def test_cursor_round_trips(cursor: Cursor) -> None:
    text = CODEC.encode(cursor)
    assert text.replace("-", "").replace("_", "").replace(".", "").isalnum()  # URL-safe
    positions = 1 if cursor.status_filter else 5
    assert CODEC.decode(text, status_filter=cursor.status_filter, positions=positions) == cursor


@given(
    position=st.integers(0, 4),
    pk=st.text(min_size=1, max_size=40),
    at=st.floats(0, 2e9, allow_nan=False).map(repr),
)
def test_any_key_round_trips(position: int, pk: str, at: str) -> None:
    cursor = Cursor(None, position, {"PK": {"S": pk}, "allocated_at": {"N": at}})
    assert CODEC.decode(CODEC.encode(cursor), status_filter=None, positions=5) == cursor


def test_a_cursor_from_another_admin_token_is_refused() -> None:
    text = CursorCodec.from_secret("other-token").encode(Cursor(None, 1, KEY))
    with pytest.raises(CursorError):
        CODEC.decode(text, status_filter=None, positions=5)


def test_a_payload_edited_without_the_key_is_refused() -> None:
    text = CODEC.encode(Cursor(None, 1, KEY))
    _, sig = text.split(".")
    forged = json.dumps({"f": None, "p": 3, "k": KEY}, separators=(",", ":"), sort_keys=True)
    with pytest.raises(CursorError):
        CODEC.decode(f"{_b64(forged.encode())}.{sig}", status_filter=None, positions=5)


def test_a_cursor_is_only_valid_with_its_own_status_filter() -> None:
    text = CODEC.encode(Cursor("stale", 0, KEY))
    with pytest.raises(CursorError):
        CODEC.decode(text, status_filter=None, positions=5)
    with pytest.raises(CursorError):
        CODEC.decode(text, status_filter="available", positions=1)


def _signed(payload: object) -> str:
    raw = json.dumps(payload).encode()
    return f"{_b64(raw)}.{_b64(CODEC._sign(raw))}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no-dot",
        ".",
        "abc.",
        ".abc",
        "!!!.???",
        "\u00e9\u00e9.\u00e9",
        "a.b.c",
        _b64(b"{}") + "." + _b64(b"0" * 16),
        # correctly signed but not a cursor this gateway would make
        _signed([1, 2]),
        _signed({"f": None, "p": 9, "k": None}),
        _signed({"f": None, "p": -1, "k": None}),
        _signed({"f": None, "p": True, "k": None}),
        _signed({"f": None, "p": 0, "k": {"PK": {"X": "1"}}}),
        _signed({"f": None, "p": 0, "k": {"PK": "SBX#1"}}),
        _signed({"f": None, "p": 0, "k": {}}),
        _signed({"f": None, "p": 0}),
    ],
)
def test_garbled_cursors_are_refused(text: str) -> None:
    with pytest.raises(CursorError):
        CODEC.decode(text, status_filter=None, positions=5)
