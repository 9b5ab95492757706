"""Identifier and header-value types of the contract, as annotated pydantic types."""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import StringConstraints

#: request_id: 1-64 chars of [A-Za-z0-9_-] (gateway: "req_" + ULID; API Gateway: its requestId).
REQUEST_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
#: Header values and ids taken from callers: 1-128 chars of [A-Za-z0-9._:@-].
HEADER_VALUE_PATTERN: Final = r"^[A-Za-z0-9._:@-]{1,128}$"
#: X-Sandbox-Name-Prefix: same alphabet, at most 64 chars.
NAME_PREFIX_PATTERN: Final = r"^[A-Za-z0-9._:@-]{1,64}$"
#: Tenant names (v2): lower-case, so one name cannot be spelled two ways; no ``#``, so keys
#: built from a tenant and a track id (``TRACK#<tenant>#<track_id>``) cannot collide.
TENANT_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,31}$"
#: The built-in tenant: every track before v2, and every track where no tenant is configured.
DEFAULT_TENANT: Final = "default"

RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
TrackId = Annotated[str, StringConstraints(pattern=HEADER_VALUE_PATTERN)]
TrackName = Annotated[str, StringConstraints(pattern=HEADER_VALUE_PATTERN)]
SandboxId = Annotated[str, StringConstraints(pattern=HEADER_VALUE_PATTERN)]
IdempotencyKey = Annotated[str, StringConstraints(pattern=HEADER_VALUE_PATTERN)]
NamePrefix = Annotated[str, StringConstraints(pattern=NAME_PREFIX_PATTERN)]
TenantName = Annotated[str, StringConstraints(pattern=TENANT_NAME_PATTERN)]

_REQUEST_ID_RE: Final = re.compile(REQUEST_ID_PATTERN)
_HEADER_VALUE_RE: Final = re.compile(HEADER_VALUE_PATTERN)
_NAME_PREFIX_RE: Final = re.compile(NAME_PREFIX_PATTERN)
_TENANT_NAME_RE: Final = re.compile(TENANT_NAME_PATTERN)


def is_request_id(value: str) -> bool:
    return _REQUEST_ID_RE.fullmatch(value) is not None


def is_header_value(value: str) -> bool:
    return _HEADER_VALUE_RE.fullmatch(value) is not None


def is_name_prefix(value: str) -> bool:
    return _NAME_PREFIX_RE.fullmatch(value) is not None


def is_tenant_name(value: str) -> bool:
    return _TENANT_NAME_RE.fullmatch(value) is not None


def tenant_or_default(value: object) -> str:
    """The tenant a half-readable message names (a dead letter, an undecodable body), when it
    is a valid name; else the default tenant (whose reply its tracks can read)."""
    return value if isinstance(value, str) and is_tenant_name(value) else DEFAULT_TENANT
