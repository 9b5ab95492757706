"""API Gateway TOKEN authorizer for the Sandbox Broker (CONTRACT.md "Auth").

Track routes take the track token; ``/v1/admin/*`` takes the admin token, which may also read
any reply (``GET /v1/requests/*``). The tokens live in Secrets Manager (ARNs from the
environment), are cached for a short while, and every presented token is compared with
both configured tokens in constant time, so timing does not tell which one (if any)
matched.

API Gateway caches an answer per token for the authorizer TTL and reuses it for every route,
so the policy returned covers all routes the role may call, not only the one asked about:
the track token is allowed everything except ``/v1/admin/*`` (an explicit Deny, answered
403 ``FORBIDDEN``); the admin token only ``/v1/admin/*`` and reply reads. A missing or
unknown token raises ``Exception("Unauthorized")``, which API Gateway answers with 401.

v2 tenants: a token that is neither configured token is looked up by its SHA-256 in the
tenants table (``TENANTS_TABLE``; layout in ``schemas/tenants.py``, which this file repeats
because the package is this one file), and a signed track token (``sbt1.``) is verified
under its tenant's key (derived from the ``SIGNING_SECRET_ARN`` secret). The answer's
context carries ``tenant``, ``track_id`` (a signed token's, else empty), ``prefixes``
(comma-joined) and ``exp`` (a signed token's expiry in epoch seconds as digits, else empty)
for the mapping templates. API Gateway reuses an answer for the authorizer cache TTL, so
the templates (``infra/apigw/prelude.vtl``) refuse a request past ``exp`` themselves: a
signed token expires on the second, not up to one cache TTL later. Lookups are cached
``TENANT_CACHE_TTL_S``. Weak configured tokens (under 24 characters, ``*``, or equal to
another) are refused: they match nothing. The ``Authorization`` value must match
``^[Bb]earer [^ ]+$``, the identity-source rule API Gateway applies first, so both hosts
parse it the same way.

This file is the whole Lambda package: standard library and boto3 (in the runtime) only.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)
# botocore logs response bodies at DEBUG, and GetSecretValue's body is a token.
logging.getLogger("botocore").setLevel(logging.WARNING)

#: The exact message API Gateway turns into a 401 (any other failure is a 500).
UNAUTHORIZED = "Unauthorized"
TRACK = "track"
ADMIN = "admin"
#: How long tokens read from Secrets Manager are trusted before they are read again.
DEFAULT_TTL_S = 60.0
#: After a failed refresh, keep answering from the last good read for this long.
STALE_GRACE_S = 600.0
#: Shortest configured token or secret accepted (settings validate the same).
MIN_TOKEN_CHARS = 24
#: The secret signed track tokens are verified with (not a role: never a bearer token).
SIGNING = "signing"
#: API Gateway's identity-source validation expression (a full match, as Java's matches()).
BEARER_RULE = re.compile(r"[Bb]earer [^ ]+")
DEFAULT_TENANT = "default"


class TokenStore:
    """The configured tokens by role, read from Secrets Manager and cached for ``ttl_s``."""

    def __init__(
        self,
        client: Any,
        *,
        secret_arns: dict[str, str],
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._arns = dict(secret_arns)
        self._ttl_s = ttl_s
        self._clock = clock
        self._tokens: dict[str, bytes] | None = None
        self._read_at = 0.0

    def tokens(self) -> dict[str, bytes]:
        now = self._clock()
        if self._tokens is not None and now - self._read_at < self._ttl_s:
            return self._tokens
        try:
            self._tokens = refuse_weak({role: self._read(arn) for role, arn in self._arns.items()})
        except Exception:
            if self._tokens is None or now - self._read_at > self._ttl_s + STALE_GRACE_S:
                raise  # nothing trustworthy to answer with: API Gateway answers 500
            log.exception("token_refresh_failed")  # keep the last good tokens a while
            return self._tokens
        self._read_at = now
        return self._tokens

    def _read(self, arn: str) -> bytes:
        try:
            value = self._client.get_secret_value(SecretId=arn).get("SecretString") or ""
        except self._client.exceptions.ResourceNotFoundException:
            # A secret created empty (no value put yet): the role is simply not configured.
            log.error("token_secret_has_no_value secret=%s", arn)
            return b""
        return str(value).strip().encode()


def refuse_weak(tokens: dict[str, bytes]) -> dict[str, bytes]:
    """Configured tokens with the weak ones blanked (an empty token matches nothing): under
    24 characters, ``*``, or equal to another one (a track token equal to the admin token
    would make every track an admin)."""
    kept = dict(tokens)
    for role, token in tokens.items():
        if not token:
            continue
        equal = [r for r, t in tokens.items() if r != role and t == token]
        if len(token) < MIN_TOKEN_CHARS or token == b"*" or equal:
            log.error("token_refused role=%s reason=%s", role, "equal" if equal else "weak")
            kept[role] = b""
    return kept


def bearer_token(header: str | None) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` value, None when malformed."""
    if header is None or BEARER_RULE.fullmatch(header) is None:
        return None
    return header[len("Bearer ") :].encode()


def _attr(value: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as plain Python (the few types the tenants table uses)."""
    if "S" in value:
        return value["S"]
    if "N" in value:
        return float(value["N"])
    if "BOOL" in value:
        return bool(value["BOOL"])
    if "L" in value:
        return [_attr(v) for v in value["L"]]
    return None


class TenantLookup:
    """Token hash → tenant and tenant → config, from the tenants table, cached ``ttl_s``
    (found or not, so a flood of wrong tokens costs one read per token per TTL)."""

    def __init__(
        self,
        client: Any,
        *,
        table: str,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        now = self._clock()
        hit = self._cache.get((pk, sk))
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        item = self._client.get_item(
            TableName=self._table,
            Key={"PK": {"S": pk}, "SK": {"S": sk}},
            ConsistentRead=True,
        ).get("Item")
        value = {k: _attr(v) for k, v in item.items()} if item else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[(pk, sk)] = (now, value)
        return value

    def grant(self, token: bytes) -> dict[str, Any] | None:
        return self._get("TOKEN#" + hashlib.sha256(token).hexdigest(), "TOKEN")

    def config(self, name: str) -> dict[str, Any] | None:
        config = self._get("TENANT", name)
        if config is None and name == DEFAULT_TENANT:
            return {"name": DEFAULT_TENANT}  # no item configures it: the built-in default
        return config


def _unb64(text: str) -> bytes:
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_signed(
    token: bytes, *, secret: bytes, tenants: TenantLookup, now: float
) -> tuple[dict[str, Any], str, str] | None:
    """(tenant config, track id, expiry digits) of a valid, unexpired ``sbt1`` token; None
    otherwise."""
    try:
        prefix, payload, signature = token.decode().split(".")
        if prefix != "sbt1" or not secret:
            return None
        claims = json.loads(_unb64(payload))
        tenant, track_id, exp = claims["tenant"], claims["track_id"], claims["exp"]
        if not (isinstance(tenant, str) and isinstance(track_id, str) and isinstance(exp, int)):
            return None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    config = tenants.config(tenant)
    if config is None:
        return None
    version = int(config.get("key_version") or 1)
    key = hmac.new(secret, f"sbt1\0{tenant}\0{version}".encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(
        hmac.new(key, payload.encode(), hashlib.sha256).digest()
    ).rstrip(b"=")
    if not hmac.compare_digest(expected, signature.encode()) or exp <= now:
        return None
    return config, track_id, str(exp)


def matching_roles(presented: bytes, configured: dict[str, bytes]) -> set[str]:
    """Roles whose token equals ``presented``; every configured token is always compared."""
    roles = set()
    for role, token in sorted(configured.items()):
        # An unconfigured (empty) token matches nothing but still costs a comparison.
        same = hmac.compare_digest(presented, token or presented)
        if token and same:
            roles.add(role)
    return roles


def _api_base(method_arn: str) -> str:
    """``arn:aws:execute-api:<region>:<account>:<api-id>/<stage>`` of a method ARN."""
    arn, _, path = method_arn.partition("/")
    stage = path.split("/", 1)[0]
    return f"{arn}/{stage}"


def policy_for(roles: set[str], method_arn: str) -> list[dict[str, Any]]:
    """IAM statements covering every route the roles may call (the answer is cached)."""
    base = _api_base(method_arn)
    if ADMIN in roles and TRACK in roles:
        return [_statement("Allow", [f"{base}/*/*"])]
    if ADMIN in roles:
        return [_statement("Allow", [f"{base}/*/v1/admin/*", f"{base}/GET/v1/requests/*"])]
    return [
        _statement("Allow", [f"{base}/*/*"]),
        _statement("Deny", [f"{base}/*/v1/admin/*"]),
    ]


def _statement(effect: str, resources: list[str]) -> dict[str, Any]:
    return {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resources}


def _tenant_context(config: dict[str, Any], track_id: str = "", exp: str = "") -> dict[str, Any]:
    prefixes = config.get("prefixes") or []
    return {
        "tenant": str(config.get("name") or DEFAULT_TENANT),
        "track_id": track_id,
        "prefixes": ",".join(str(p) for p in prefixes),
        "exp": exp,
    }


def _tenant_of(
    presented: bytes,
    tokens: dict[str, bytes],
    roles: set[str],
    tenants: TenantLookup | None,
    now: float,
) -> dict[str, Any] | None:
    """The track caller's tenant context, or None (not a track credential)."""
    if TRACK in roles:
        config = tenants.config(DEFAULT_TENANT) if tenants is not None else None
        config = config or {"name": DEFAULT_TENANT}
        return None if config.get("require_track_tokens") else _tenant_context(config)
    if tenants is None:
        return None
    if presented.startswith(b"sbt1."):
        signed = verify_signed(presented, secret=tokens.get(SIGNING, b""), tenants=tenants, now=now)
        return _tenant_context(*signed) if signed is not None else None
    grant = tenants.grant(presented)
    if grant is None:
        return None
    config = tenants.config(str(grant.get("tenant")))
    if config is None or config.get("require_track_tokens"):
        return None
    return _tenant_context(config)


def authorize(
    event: dict[str, Any],
    store: TokenStore,
    *,
    usage_keys: dict[str, str],
    tenants: TenantLookup | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The authorizer answer for one TOKEN event, or ``Exception("Unauthorized")``."""
    method_arn = str(event.get("methodArn", ""))
    presented = bearer_token(event.get("authorizationToken"))
    tokens = store.tokens() if presented is not None else {}
    roles = set()
    if presented is not None:
        roles = matching_roles(presented, {r: t for r, t in tokens.items() if r != SIGNING})
    context: dict[str, Any] | None = None
    if presented is not None and ADMIN not in roles:
        context = _tenant_of(presented, tokens, roles, tenants, clock())
        roles = {TRACK} if context is not None else set()
    if not roles:
        log.info("authorizer_denied route=%s", method_arn.partition("/")[2])
        raise Exception(UNAUTHORIZED)
    role = ADMIN if ADMIN in roles else TRACK
    answer: dict[str, Any] = {
        "principalId": role,
        "policyDocument": {"Version": "2012-10-17", "Statement": policy_for(roles, method_arn)},
        # Read by the mapping templates as $context.authorizer.role (and .tenant, ...).
        "context": {"role": role, **(context or {})},
    }
    if usage_keys.get(role):
        # The usage plan (throttling budget) of this role: track and admin calls are
        # limited separately.
        answer["usageIdentifierKey"] = usage_keys[role]
    return answer


@functools.cache
def _default_store() -> TokenStore:
    import boto3  # in the Lambda runtime; imported here so tests need no AWS at import

    arns = {
        TRACK: os.environ["TRACK_TOKEN_SECRET_ARN"],
        ADMIN: os.environ["ADMIN_TOKEN_SECRET_ARN"],
    }
    if os.environ.get("SIGNING_SECRET_ARN"):
        arns[SIGNING] = os.environ["SIGNING_SECRET_ARN"]
    return TokenStore(
        boto3.client("secretsmanager"),
        secret_arns=arns,
        ttl_s=float(os.environ.get("TOKEN_CACHE_TTL_S", DEFAULT_TTL_S)),
    )


@functools.cache
def _default_tenants() -> TenantLookup | None:
    table = os.environ.get("TENANTS_TABLE", "")
    if not table:
        return None
    import boto3

    return TenantLookup(
        boto3.client("dynamodb"),
        table=table,
        ttl_s=float(os.environ.get("TENANT_CACHE_TTL_S", DEFAULT_TTL_S)),
    )


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point (``handler.handler``)."""
    usage_keys = {
        TRACK: os.environ.get("TRACK_USAGE_KEY", ""),
        ADMIN: os.environ.get("ADMIN_USAGE_KEY", ""),
    }
    answer = authorize(event, _default_store(), usage_keys=usage_keys, tenants=_default_tenants())
    fields = {"role": answer["principalId"], "tenant": answer["context"].get("tenant")}
    log.info("authorizer_allowed %s", json.dumps(fields))
    return answer
