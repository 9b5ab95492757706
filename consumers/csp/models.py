"""The CSP's account model and the shape of its paginated list answer.

One CSP account is one pool sandbox: ``sandbox_id`` is the account id (a UUID, stable),
``external_id`` is ``identity/accounts/<uuid>``. Only accounts the CSP reports ``active``
may become ``available`` in the pool; the sync job decides what to do with the others.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, StringConstraints

#: The CSP's account ids are UUIDs. Any id that is one safe URL path segment is accepted (an
#: adopted table may hold older ids); dots and slashes are not, since the id is pasted into
#: the DELETE path. It is also a valid ``SandboxId``.
ACCOUNT_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,128}$"
AccountId = Annotated[str, StringConstraints(pattern=ACCOUNT_ID_PATTERN)]

#: The one account state that makes a sandbox handable to a lab.
USABLE_STATE: Final = "active"


class DeleteOutcome(StrEnum):
    """Both mean the account is gone; the difference is kept for logs and metrics."""

    DELETED = "deleted"
    ALREADY_GONE = "already_gone"


class CspAccount(BaseModel):
    """One entry of ``GET {base}/current_user/accounts`` (unknown fields ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: AccountId
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    state: str = USABLE_STATE
    sfdc_account_id: str | None = None
    created_at: datetime | None = None

    @property
    def sandbox_id(self) -> str:
        return self.id

    @property
    def external_id(self) -> str:
        return f"identity/accounts/{self.id}"

    @property
    def is_usable(self) -> bool:
        """Whether the CSP says a lab may be given this account."""
        return self.state == USABLE_STATE


class CspAccountPage(BaseModel):
    """One page of the list answer (Django REST framework's page-number pagination)."""

    model_config = ConfigDict(extra="ignore")

    count: int | None = None
    next: str | None = None
    previous: str | None = None
    results: list[CspAccount]
