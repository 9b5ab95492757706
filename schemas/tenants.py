"""Tenants (CONTRACT.md "Version 2 additions → Tenants"): configs, token hashes, signed tokens.

Pure logic, no I/O: the tenants table layout (``consumers/stores/tenants.py`` reads and
writes it), how a token is hashed, and the ``sbt1`` signed track token format. The AWS
authorizer (``infra/authorizer/handler.py``, a one-file package) repeats the few lines it
needs; ``tests/infra/test_authorizer_tenants.py`` checks that both agree.

Table ``sandbox-tenants`` (PK, SK strings):
- ``PK = TENANT``, ``SK = <name>``: one tenant's config (one partition: tenants are few and
  ``tenants list`` is one Query, never a Scan);
- ``PK = TOKEN#<sha256 hex of the token>``, ``SK = TOKEN``: ``{tenant, token_id,
  created_at}`` — what a host looks up for a presented token (one GetItem).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.ids import (
    DEFAULT_TENANT,
    NamePrefix,
    TenantName,
    TrackId,
    is_header_value,
    is_tenant_name,
)

TENANT_PK: Final = "TENANT"
TOKEN_PK_PREFIX: Final = "TOKEN#"  # noqa: S105 (a key prefix, not a secret)
TOKEN_SK: Final = "TOKEN"  # noqa: S105
#: A plain tenant token as minted here: recognisable in a leak scan, 256 bits of entropy.
TOKEN_PREFIX: Final = "sbk_"  # noqa: S105
#: Signed track tokens: ``sbt1.<base64url(json payload)>.<base64url(HMAC-SHA256)>``.
SIGNED_PREFIX: Final = "sbt1."
#: Longest signed-token lifetime a mint accepts (a lab runs hours, not weeks).
MAX_SIGNED_TTL_S: Final = 7 * 86_400
MIN_SIGNED_TTL_S: Final = 60


class TenantToken(BaseModel):
    """One of a tenant's plain tokens, as its config lists it (never the token itself)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    token_id: str
    sha256: str
    created_at: float


class TenantConfig(BaseModel):
    """A tenant: its prefixes, quota, rate and tokens (by id and hash)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: TenantName
    #: Sandbox name prefixes it may get; empty = every sandbox.
    prefixes: tuple[NamePrefix, ...] = ()
    #: Sandboxes it may hold at once; None = unlimited.
    max_active: int | None = Field(None, ge=0)
    #: Its requests per minute over all its tracks; None = only the per-track budget.
    rate_per_min: int | None = Field(None, ge=1)
    #: Accept only signed track tokens (``sbt1.``) for this tenant.
    require_track_tokens: bool = False
    #: The signing key version (``sbt1`` key derivation); bump to invalidate minted tokens.
    key_version: int = Field(1, ge=1)
    tokens: tuple[TenantToken, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0

    def allows_prefix(self, name_prefix: str) -> bool:
        """An ``X-Sandbox-Name-Prefix`` inside the tenant's prefixes (or any, when none)."""
        return not self.prefixes or any(name_prefix.startswith(p) for p in self.prefixes)

    def allows_name(self, name: str) -> bool:
        return not self.prefixes or any(name.startswith(p) for p in self.prefixes)


#: The default tenant as it is when no item configures it: the settings' track token,
#: every sandbox, no quota, no tenant-wide rate.
DEFAULT_CONFIG: Final = TenantConfig(name=DEFAULT_TENANT)


class TokenGrant(BaseModel):
    """What a presented plain token resolves to (the token-hash item)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant: TenantName
    token_id: str
    created_at: float = 0.0


def token_sha256(token: str) -> str:
    """The hex SHA-256 under which a token is stored (the token itself never is)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_key(token_hash: str) -> dict[str, str]:
    return {"PK": f"{TOKEN_PK_PREFIX}{token_hash}", "SK": TOKEN_SK}


def tenant_key(name: str) -> dict[str, str]:
    return {"PK": TENANT_PK, "SK": name}


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_token_id() -> str:
    return "tok_" + secrets.token_hex(6)


# Signed track tokens ---------------------------------------------------------------------


class SignedClaims(BaseModel):
    """The payload of an ``sbt1`` token: whose track, until when (epoch seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: TenantName
    track_id: TrackId
    exp: int


class SignedTokenError(ValueError):
    """Not a valid ``sbt1`` token (malformed, bad signature); expiry is the caller's check."""


def tenant_signing_key(secret: str, tenant: str, key_version: int) -> bytes:
    """HMAC(settings.token_signing_secret, "sbt1\\0" + tenant + "\\0" + key_version)."""
    msg = f"sbt1\0{tenant}\0{key_version}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or len(text) > 4096 or not all(c.isalnum() or c in "-_" for c in text):
        raise SignedTokenError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint_signed(claims: SignedClaims, *, key: bytes) -> str:
    payload = _b64(json.dumps(claims.model_dump(), separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{SIGNED_PREFIX}{payload}.{signature}"


def is_signed(token: str) -> bool:
    return token.startswith(SIGNED_PREFIX)


def signed_tenant(token: str) -> str:
    """The tenant a signed token names (unverified: picks the key to verify it with)."""
    return _claims(token)[0].tenant


def _claims(token: str) -> tuple[SignedClaims, str, str]:
    if not is_signed(token):
        raise SignedTokenError("not an sbt1 token")
    parts = token[len(SIGNED_PREFIX) :].split(".")
    if len(parts) != 2:
        raise SignedTokenError("not an sbt1 token")
    payload, signature = parts
    try:
        claims = SignedClaims.model_validate_json(_unb64(payload))
    except (ValidationError, ValueError) as exc:
        raise SignedTokenError("malformed payload") from exc
    return claims, payload, signature


def verify_signed(token: str, *, key: bytes) -> SignedClaims:
    """The claims of a token signed with ``key``; SignedTokenError otherwise."""
    claims, payload, signature = _claims(token)
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignedTokenError("bad signature")
    return claims


def valid_track_for_signing(tenant: str, track_id: str) -> bool:
    return is_tenant_name(tenant) and is_header_value(track_id)


def mint_for(
    config: TenantConfig, track_id: str, *, ttl_s: int, secret: str, now: float
) -> tuple[str, int]:
    """A signed token binding ``track_id`` of the tenant for ``ttl_s``, and its expiry.

    One implementation for ``tenants mint`` and ``POST /v1/admin/tenants/{name}/track-tokens``.
    """
    if not MIN_SIGNED_TTL_S <= ttl_s <= MAX_SIGNED_TTL_S:
        raise ValueError(f"ttl must be {MIN_SIGNED_TTL_S}-{MAX_SIGNED_TTL_S} seconds")
    if not is_header_value(track_id):
        raise ValueError("track_id must be 1-128 chars of [A-Za-z0-9._:@-]")
    exp = int(now) + ttl_s
    claims = SignedClaims(tenant=config.name, track_id=track_id, exp=exp)
    key = tenant_signing_key(secret, config.name, config.key_version)
    return mint_signed(claims, key=key), exp


_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``30m``, ``6h``, ``1d`` as seconds; ValueError otherwise."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:], None) if value else None
    number = value[:-1] if unit is not None else value
    if not number.isdigit() or len(number) > 9:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 6h, 1d)")
    return int(number) * (unit or 1)
