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

This file is the whole Lambda package: standard library and boto3 (in the runtime) only.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import os
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
            self._tokens = {role: self._read(arn) for role, arn in self._arns.items()}
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


def bearer_token(header: str | None) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` value, None when malformed."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token.encode()


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


def authorize(
    event: dict[str, Any], store: TokenStore, *, usage_keys: dict[str, str]
) -> dict[str, Any]:
    """The authorizer answer for one TOKEN event, or ``Exception("Unauthorized")``."""
    method_arn = str(event.get("methodArn", ""))
    presented = bearer_token(event.get("authorizationToken"))
    roles = matching_roles(presented, store.tokens()) if presented is not None else set()
    if not roles:
        log.info("authorizer_denied route=%s", method_arn.partition("/")[2])
        raise Exception(UNAUTHORIZED)
    role = ADMIN if ADMIN in roles else TRACK
    answer: dict[str, Any] = {
        "principalId": role,
        "policyDocument": {"Version": "2012-10-17", "Statement": policy_for(roles, method_arn)},
        # Read by the mapping templates as $context.authorizer.role.
        "context": {"role": role},
    }
    if usage_keys.get(role):
        # The usage plan (throttling budget) of this role: track and admin calls are
        # limited separately.
        answer["usageIdentifierKey"] = usage_keys[role]
    return answer


@functools.cache
def _default_store() -> TokenStore:
    import boto3  # in the Lambda runtime; imported here so tests need no AWS at import

    return TokenStore(
        boto3.client("secretsmanager"),
        secret_arns={
            TRACK: os.environ["TRACK_TOKEN_SECRET_ARN"],
            ADMIN: os.environ["ADMIN_TOKEN_SECRET_ARN"],
        },
        ttl_s=float(os.environ.get("TOKEN_CACHE_TTL_S", DEFAULT_TTL_S)),
    )


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point (``handler.handler``)."""
    usage_keys = {
        TRACK: os.environ.get("TRACK_USAGE_KEY", ""),
        ADMIN: os.environ.get("ADMIN_USAGE_KEY", ""),
    }
    answer = authorize(event, _default_store(), usage_keys=usage_keys)
    log.info("authorizer_allowed %s", json.dumps({"role": answer["principalId"]}))
    return answer
