"""Decoding the CSP's answers: no body text ever reaches an error message.

pydantic's messages quote their input, and a CSP body may echo a token or an account's
details, so a malformed body is summarised by where it is wrong, never by what it says.
"""

from __future__ import annotations

import email.utils
import math
import time

import httpx
from pydantic import ValidationError

from consumers.csp.errors import CspResponseError
from consumers.csp.models import CspAccountPage, DeleteOutcome


def decode_page(response: httpx.Response) -> CspAccountPage:
    # Errors are raised outside the ``except`` blocks: a chained ValidationError would keep
    # the body (and whatever it echoes) alive on ``__context__``.
    status = response.status_code
    if status != 200:
        hint = " (the CSP rejected the token)" if status in (401, 403) else ""
        raise CspResponseError(f"list_accounts: HTTP {status}{hint}", status_code=status)
    problem: str
    try:
        body = response.json()
    except ValueError:
        problem = "the body is not JSON"
    else:
        try:
            return CspAccountPage.model_validate(body)
        except ValidationError as exc:
            problem = _summarise(exc)
    raise CspResponseError(f"list_accounts: {problem}", status_code=status)


def decode_delete(response: httpx.Response) -> DeleteOutcome:
    status = response.status_code
    if response.is_success:
        return DeleteOutcome.DELETED
    if status == 404:
        return DeleteOutcome.ALREADY_GONE
    hint = " (the CSP rejected the token)" if status in (401, 403) else ""
    raise CspResponseError(f"delete_account: HTTP {status}{hint}", status_code=status)


def _summarise(exc: ValidationError) -> str:
    """Where the body is wrong, without quoting it (pydantic's message includes the input)."""
    errors = exc.errors(include_input=False, include_url=False, include_context=False)
    where = ", ".join(
        "{} ({})".format(".".join(str(p) for p in e["loc"]) or "body", e["type"])
        for e in errors[:3]
    )
    more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
    return f"malformed body: {where}{more}"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent
    or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)
