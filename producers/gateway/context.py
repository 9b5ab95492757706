"""The request's log fields, gathered while it is handled and written once when it ends.

They live in the ASGI scope's ``state`` (what ``request.state`` wraps), so the route, the
error handlers and the outer middleware all see the same dict without a context variable.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any


def log_fields(scope: MutableMapping[str, Any]) -> dict[str, Any]:
    state = scope.setdefault("state", {})
    fields: dict[str, Any] = state.setdefault("log_fields", {})
    return fields


def annotate(scope: MutableMapping[str, Any], **fields: Any) -> None:
    """Add ``request_id``, ``action``, ``track_id`` or ``outcome`` to the request's log line."""
    log_fields(scope).update({k: v for k, v in fields.items() if v is not None})
