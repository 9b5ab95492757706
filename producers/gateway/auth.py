"""Bearer-token auth: who is calling (admin, or a track of which tenant), or 401 / 403.

A presented token is, in this order: the admin token; the settings' track token (tenant
``default``); a signed track token (``sbt1.``, verified under its tenant's key, expiry
honoured, bound to one track id); a tenant token, looked up by its SHA-256 hash in the
tenants store (cached ``tenant_cache_ttl_s``). A tenant with ``require_track_tokens``
accepts only signed tokens. Configured tokens are compared with ``hmac.compare_digest``; a
token that is not configured matches nothing, so a gateway without tokens refuses
everything instead of being open.

The ``Authorization`` value must match API Gateway's identity-source rule
``^[Bb]earer [^ ]+$`` exactly, so the two hosts accept the same headers.

API for route authors (``routes/*.py``):
- ``await gw.track_caller(request)`` (``gateway.py``) on track routes: auth, the track
  headers, the signed-token binding and the rate limits, giving a ``TrackCaller`` whose
  ``tenant`` goes into every message and whose ``owns(tenant, track_id)`` checks a read;
- ``gw.auth.require(request.headers, Role.ADMIN)`` on admin routes (synchronous: the admin
  token comes from settings only);
- ``await gw.auth.principal(request.headers, Role.TRACK, Role.ADMIN)`` where both may call.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import structlog
from pydantic import SecretStr
from starlette.datastructures import Headers

from producers.gateway.errors import ForbiddenError, ServiceUnavailableError, UnauthorizedError
from schemas.ids import DEFAULT_TENANT
from schemas.tenants import (
    DEFAULT_CONFIG,
    SignedTokenError,
    TenantConfig,
    is_signed,
    signed_tenant,
    tenant_signing_key,
    verify_signed,
)

if TYPE_CHECKING:
    from consumers.stores.tenants import TenantDirectory

log = structlog.get_logger(__name__)

#: API Gateway's identity-source validation expression for the Authorization header.
BEARER_RULE: Final = re.compile(r"[Bb]earer [^ ]+")
BEARER_PREFIX_LEN: Final = len("Bearer ")


class Role(StrEnum):
    TRACK = "track"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the admin, or a track of ``tenant``."""

    role: Role
    tenant: TenantConfig | None = None
    #: A signed token's track id: the track header must equal it.
    bound_track_id: str | None = None

    @property
    def tenant_name(self) -> str:
        return self.tenant.name if self.tenant is not None else DEFAULT_TENANT


def bearer_token(headers: Headers) -> str | None:
    """The token of the one ``Authorization: Bearer <token>`` header, None when malformed."""
    values = headers.getlist("authorization")
    if len(values) != 1 or BEARER_RULE.fullmatch(values[0]) is None:
        return None
    return values[0][BEARER_PREFIX_LEN:]


def _matches(presented: bytes, configured: SecretStr | None) -> bool:
    if configured is None or not configured.get_secret_value():
        # Still spend a comparison so an unconfigured token is not faster to reject.
        hmac.compare_digest(presented, presented)
        return False
    return hmac.compare_digest(presented, configured.get_secret_value().encode())


def _unavailable(exc: Exception) -> ServiceUnavailableError:
    log.warning("table_unavailable", table="tenants", outcome="error", error=type(exc).__name__)
    return ServiceUnavailableError("the tenants table did not answer")


class Authenticator:
    def __init__(
        self,
        *,
        track_token: SecretStr | None,
        admin_token: SecretStr | None,
        tenants: TenantDirectory | None = None,
        signing_secret: SecretStr | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._track_token = track_token
        self._admin_token = admin_token
        self._tenants = tenants
        self._signing_secret = signing_secret
        self._clock = clock

    def now(self) -> float:
        """The clock signed tokens expire by (epoch seconds; a test hook replaces it)."""
        return self._clock()

    def is_admin(self, headers: Headers) -> bool:
        """Whether the request carries the admin token (never raises: for routes open to all
        that only say more to an operator, such as ``/readyz``)."""
        token = bearer_token(headers)
        return token is not None and _matches(token.encode(), self._admin_token)

    def require(self, headers: Headers, *allowed: Role) -> Role:
        """Admin routes, synchronously: the admin token, else 403 for the settings' track
        token and 401 for anything else.

        Settings-only, so a tenant token reads as wrong here (401, not 403): prefer
        ``await principal(headers, Role.ADMIN)``; track routes must use ``principal``.
        """
        if Role.TRACK in allowed or Role.ADMIN not in allowed:
            raise TypeError("track routes authenticate with `await principal(...)`")
        token = bearer_token(headers)
        presented = token.encode() if token is not None else b""
        is_admin = _matches(presented, self._admin_token)
        is_track = _matches(presented, self._track_token)
        if token is not None and is_admin:
            return Role.ADMIN
        if token is not None and is_track:
            raise ForbiddenError("this token may not use this route")
        raise UnauthorizedError("missing or invalid bearer token")

    async def principal(self, headers: Headers, *allowed: Role) -> Principal:
        """The caller, if its token grants one of ``allowed``; else 401 / 403."""
        token = bearer_token(headers)
        if token is None:
            raise UnauthorizedError("missing or invalid bearer token")
        if _matches(token.encode(), self._admin_token):
            if Role.ADMIN in allowed:
                return Principal(Role.ADMIN)
            raise ForbiddenError("this token may not use this route")
        track = await self._track(token)
        if track is None:
            raise UnauthorizedError("missing or invalid bearer token")
        if Role.TRACK not in allowed:
            raise ForbiddenError("this token may not use this route")
        return track

    async def _config(self, name: str) -> TenantConfig | None:
        config = None
        if self._tenants is not None:
            try:
                config = await self._tenants.config(name)
            except Exception as exc:
                raise _unavailable(exc) from exc
        if config is None and name == DEFAULT_TENANT:
            return DEFAULT_CONFIG  # no item configures it: the built-in default tenant
        return config

    async def _track(self, token: str) -> Principal | None:
        if _matches(token.encode(), self._track_token):
            config = await self._config(DEFAULT_TENANT)
            if config is None or config.require_track_tokens:
                return None
            return Principal(Role.TRACK, config)
        if is_signed(token):
            return await self._signed(token)
        if self._tenants is None:
            return None
        try:
            grant = await self._tenants.grant(token)
        except Exception as exc:
            raise _unavailable(exc) from exc
        if grant is None:
            return None
        config = await self._config(grant.tenant)
        if config is None or config.require_track_tokens:
            return None
        return Principal(Role.TRACK, config)

    async def _signed(self, token: str) -> Principal | None:
        if self._signing_secret is None or not self._signing_secret.get_secret_value():
            return None
        try:
            config = await self._config(signed_tenant(token))
            if config is None:
                return None
            key = tenant_signing_key(
                self._signing_secret.get_secret_value(), config.name, config.key_version
            )
            claims = verify_signed(token, key=key)
        except SignedTokenError:
            return None
        if claims.tenant != config.name or claims.exp <= self._clock():
            return None  # expired: 401, as for any token that is no longer valid
        return Principal(Role.TRACK, config, bound_track_id=claims.track_id)
