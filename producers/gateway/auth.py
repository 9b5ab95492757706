"""Bearer-token auth: the track token for track routes, the admin token for ``/v1/admin/*``.

Both configured tokens are compared on every call with ``hmac.compare_digest`` so timing
does not tell which (if any) matched. A token that is not configured matches nothing: a
gateway without tokens refuses everything instead of being open.
"""

from __future__ import annotations

import hmac
from enum import StrEnum

from pydantic import SecretStr
from starlette.datastructures import Headers

from producers.gateway.errors import ForbiddenError, UnauthorizedError


class Role(StrEnum):
    TRACK = "track"
    ADMIN = "admin"


def _matches(presented: bytes, configured: SecretStr | None) -> bool:
    if configured is None or not configured.get_secret_value():
        # Still spend a comparison so an unconfigured token is not faster to reject.
        hmac.compare_digest(presented, presented)
        return False
    return hmac.compare_digest(presented, configured.get_secret_value().encode())


class Authenticator:
    def __init__(self, *, track_token: SecretStr | None, admin_token: SecretStr | None) -> None:
        self._tokens = {Role.TRACK: track_token, Role.ADMIN: admin_token}

    def roles(self, headers: Headers) -> set[Role]:
        """The roles the request's bearer token grants (empty when missing or wrong)."""
        values = headers.getlist("authorization")
        if len(values) != 1:
            return set()
        scheme, _, token = values[0].partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return set()
        presented = token.encode()
        return {
            role for role, configured in self._tokens.items() if _matches(presented, configured)
        }

    def require(self, headers: Headers, *allowed: Role) -> Role:
        """The role this route accepts, or 401 (no valid token) / 403 (valid, wrong route)."""
        granted = self.roles(headers)
        for role in allowed:
            if role in granted:
                return role
        if granted:
            raise ForbiddenError("this token may not use this route")
        raise UnauthorizedError("missing or invalid bearer token")
