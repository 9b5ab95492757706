"""The tenants table: configs and token hashes (layout: ``schemas/tenants.py``).

(Over 400 lines: every read and conditional write of the tenants table, and its cache.)

``TenantStore`` is the table layer (every read and conditional write); the gateway, the
consumer and the ``tenants`` CLI use it, never their own queries. ``TenantDirectory`` puts a
short cache in front of the two reads a request path makes (token → tenant, tenant →
config), so a rotation or revocation takes effect within ``ttl_s`` on every host.

Writes that touch a token change two items (the config's token list and the token-hash
item) in one ``TransactWriteItems``, so the list and the lookups never disagree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import ClientError

from consumers.stores.status_index import count_leases
from consumers.stores.transactions import cancellation
from schemas.ids import DEFAULT_TENANT
from schemas.items import from_item, to_attr, to_item
from schemas.pool import TenantUsage
from schemas.tenants import (
    TENANT_PK,
    TenantConfig,
    TenantToken,
    TokenGrant,
    new_token,
    new_token_id,
    tenant_key,
    token_key,
    token_sha256,
)

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

log = structlog.get_logger(__name__)

__all__ = [
    "IssuedToken",
    "TenantDirectory",
    "TenantExistsError",
    "TenantNotFoundError",
    "TenantStore",
    "TokenNotFoundError",
]


class TenantStoreError(Exception):
    """A tenants-table write refused for a reason the operator can act on."""


class TenantExistsError(TenantStoreError):
    pass


class TenantNotFoundError(TenantStoreError):
    pass


class TokenNotFoundError(TenantStoreError):
    pass


@dataclass(frozen=True)
class IssuedToken:
    """A new token, shown once: only its hash is stored."""

    tenant: str
    token_id: str
    token: str


def _key(key: dict[str, str]) -> dict[str, Any]:
    return {k: {"S": v} for k, v in key.items()}


def _number(value: float) -> dict[str, Any]:
    return to_attr(value)


def _config_values(config: TenantConfig) -> dict[str, Any]:
    values = config.model_dump(mode="json")
    values["prefixes"] = list(config.prefixes)
    values["tokens"] = {t.token_id: t.model_dump(mode="json") for t in config.tokens}
    return values


def _config_of(item: dict[str, Any]) -> TenantConfig:
    values = from_item(item)
    tokens = values.get("tokens") or {}
    values["tokens"] = sorted(tokens.values(), key=lambda t: (t["created_at"], t["token_id"]))
    values["prefixes"] = tuple(values.get("prefixes") or ())
    return TenantConfig.model_validate(values)


class TenantStore:
    """Reads and writes of the tenants table."""

    def __init__(
        self, ddb: DynamoDBClient, *, table: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._ddb = ddb
        self.table = table
        self._clock = clock

    # reads ------------------------------------------------------------------------------

    async def _get_item(self, key: dict[str, str]) -> dict[str, Any] | None:
        """One consistent GetItem; a table that does not exist yet reads as empty, so a
        deployment upgraded before ``infra provision`` ran keeps working as tenant default."""
        try:
            resp = await self._ddb.get_item(
                TableName=self.table, Key=_key(key), ConsistentRead=True
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            log.warning("tenants_table_missing", table=self.table)
            return None
        item: dict[str, Any] | None = resp.get("Item")
        return item

    async def get(self, name: str) -> TenantConfig | None:
        item = await self._get_item(tenant_key(name))
        return _config_of(item) if item else None

    async def list(self) -> list[TenantConfig]:
        """Every tenant, by name (one Query on the config partition)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": TENANT_PK}},
            "ConsistentRead": True,
        }
        found: list[TenantConfig] = []
        while True:
            try:
                resp = await self._ddb.query(**kwargs)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                log.warning("tenants_table_missing", table=self.table)
                return found
            found += [_config_of(i) for i in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                return found
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    async def grant(self, token: str) -> TokenGrant | None:
        """The tenant a plain token belongs to, or None (looked up by its hash)."""
        item = await self._get_item(token_key(token_sha256(token)))
        return TokenGrant.model_validate(from_item(item)) if item else None

    # writes -----------------------------------------------------------------------------

    async def add(
        self,
        name: str,
        *,
        prefixes: tuple[str, ...] = (),
        max_active: int | None = None,
        rate_per_min: int | None = None,
        require_track_tokens: bool = False,
    ) -> IssuedToken:
        """Create a tenant with its first token; TenantExistsError when the name is taken."""
        now = self._clock()
        issued, entry = self._issue(name, now)
        config = TenantConfig(
            name=name,
            prefixes=prefixes,
            max_active=max_active,
            rate_per_min=rate_per_min,
            require_track_tokens=require_track_tokens,
            tokens=(entry,),
            created_at=now,
            updated_at=now,
        )
        try:
            await self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {**_key(tenant_key(name)), **to_item(_config_values(config))},
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    self._token_put(issued, entry),  # type: ignore[list-item]
                ]
            )
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None:
                raise
            if cancelled.refused(0):
                raise TenantExistsError(f"tenant {name!r} exists") from None
            cancelled.raise_unexplained()
        return issued

    async def rotate(self, name: str) -> IssuedToken:
        """Add a token to the tenant; the old ones stay valid until revoked."""
        now = self._clock()
        issued, entry = self._issue(name, now)
        await self._token_transaction(
            name,
            update="SET tokens.#id = :entry, updated_at = :now",
            values={":entry": {"M": to_item(entry.model_dump(mode="json"))}},
            token_id=entry.token_id,
            other=self._token_put(issued, entry),
            now=now,
        )
        return issued

    async def revoke(self, name: str, token_id: str) -> None:
        """Remove one token (its lookups stop at once; caches forget it within their TTL)."""
        config = await self.get(name)
        if config is None:
            raise TenantNotFoundError(f"no tenant {name!r}")
        entry = next((t for t in config.tokens if t.token_id == token_id), None)
        if entry is None:
            raise TokenNotFoundError(f"tenant {name!r} has no token {token_id!r}")
        await self._token_transaction(
            name,
            update="REMOVE tokens.#id SET updated_at = :now",
            values={},
            token_id=token_id,
            other={
                "Delete": {
                    "TableName": self.table,
                    "Key": _key(token_key(entry.sha256)),
                }
            },
            now=self._clock(),
        )

    async def set(self, name: str, **changes: Any) -> TenantConfig:
        """Change a tenant's settings (prefixes, max_active, rate_per_min, require_track_tokens,
        key_version); a None value in ``changes`` clears an optional one."""
        current = await self.get(name)
        if current is None:
            raise TenantNotFoundError(f"no tenant {name!r}")
        updated = current.model_copy(update={**changes, "updated_at": self._clock()})
        TenantConfig.model_validate(updated.model_dump())  # the same rules as add
        sets, removes = [], []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        fields = _config_values(updated)
        for i, field in enumerate([*changes, "updated_at"]):
            names[f"#f{i}"] = field
            if fields[field] is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :f{i}")
                values[f":f{i}"] = to_attr(fields[field])
        expression = ("SET " + ", ".join(sets) if sets else "") + (
            " REMOVE " + ", ".join(removes) if removes else ""
        )
        kwargs: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        try:
            await self._ddb.update_item(
                TableName=self.table,
                Key=_key(tenant_key(name)),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames=names,
                **kwargs,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise TenantNotFoundError(f"no tenant {name!r}") from None
        return updated

    def _issue(self, name: str, now: float) -> tuple[IssuedToken, TenantToken]:
        token, token_id = new_token(), new_token_id()
        entry = TenantToken(token_id=token_id, sha256=token_sha256(token), created_at=now)
        return IssuedToken(tenant=name, token_id=token_id, token=token), entry

    def _token_put(self, issued: IssuedToken, entry: TenantToken) -> dict[str, Any]:
        grant = TokenGrant(
            tenant=issued.tenant, token_id=entry.token_id, created_at=entry.created_at
        )
        return {
            "Put": {
                "TableName": self.table,
                "Item": {**_key(token_key(entry.sha256)), **to_item(grant.model_dump())},
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    async def _token_transaction(
        self,
        name: str,
        *,
        update: str,
        values: dict[str, Any],
        token_id: str,
        other: dict[str, Any],
        now: float,
    ) -> None:
        try:
            await self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(tenant_key(name)),
                            "UpdateExpression": update,
                            "ConditionExpression": "attribute_exists(PK)",
                            "ExpressionAttributeNames": {"#id": token_id},
                            "ExpressionAttributeValues": {**values, ":now": _number(now)},
                        }
                    },
                    other,  # type: ignore[list-item]
                ]
            )
        except ClientError as exc:
            cancelled = cancellation(exc)
            if cancelled is None:
                raise
            if cancelled.refused(0):
                raise TenantNotFoundError(f"no tenant {name!r}") from None
            cancelled.raise_unexplained()


@dataclass
class _Cached:
    value: Any
    read_at: float


class TenantDirectory:
    """The store's two request-path reads, each answer (found or not) cached for ``ttl_s``.

    A cached miss matters as much as a hit: a flood of wrong tokens costs one read per
    distinct token per TTL, not one per request. Concurrent requests that miss the same key
    share one read (a burst of 1,000 allocations used to make 1,000 reads of one config,
    queued on the table before any was cached). ``clock`` is injectable (tests move it).
    """

    #: Distinct cached keys before the oldest half is dropped (wrong tokens are unbounded).
    MAX_ENTRIES = 10_000

    def __init__(
        self,
        store: TenantStore,
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._grants: dict[str, _Cached] = {}
        self._configs: dict[str, _Cached] = {}
        #: Reads on the way, by (cache, key): the misses that come meanwhile await these.
        self._reading: dict[tuple[int, str], asyncio.Future[Any]] = {}

    async def grant(self, token: str) -> TokenGrant | None:
        key = token_sha256(token)  # the cache never holds a token either
        grant: TokenGrant | None = await self._cached(
            self._grants, key, lambda: self.store.grant(token)
        )
        return grant

    async def config(self, name: str) -> TenantConfig | None:
        config: TenantConfig | None = await self._cached(
            self._configs, name, lambda: self.store.get(name)
        )
        return config

    async def _cached(self, cache: dict[str, _Cached], key: str, read: Any) -> Any:
        now = self._clock()
        hit = cache.get(key)
        if hit is not None and now - hit.read_at < self._ttl_s:
            return hit.value
        flight = (id(cache), key)
        pending = self._reading.get(flight)
        if pending is not None:  # another request is reading it: share its answer (or error)
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled, not the read
                # the reading request was cancelled: read for ourselves below
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._reading[flight] = future
        try:
            value = await read()
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody waiting is not an unhandled error
            raise
        except BaseException:
            future.cancel()  # cancelled mid-read: the waiters read for themselves
            raise
        else:
            future.set_result(value)
        finally:
            if self._reading.get(flight) is future:
                del self._reading[flight]
        if len(cache) >= self.MAX_ENTRIES:
            for old in list(cache)[: self.MAX_ENTRIES // 2]:
                del cache[old]
        cache[key] = _Cached(value, now)
        return value


async def tenant_usage(
    ddb: DynamoDBClient, *, pool_table: str, tenants_table: str
) -> dict[str, TenantUsage]:
    """``by_tenant`` of the stats: each tenant's leases and ``max_active`` (the default
    tenant always; v1 allocations made before lease markers existed are not counted)."""
    configs = {c.name: c for c in await TenantStore(ddb, table=tenants_table).list()}
    names = sorted({DEFAULT_TENANT, *configs})
    counts = await asyncio.gather(
        *(count_leases(ddb, table=pool_table, tenant=name) for name in names)
    )
    return {
        name: TenantUsage(
            allocated=n, max_active=configs[name].max_active if name in configs else None
        )
        for name, n in zip(names, counts, strict=True)
    }
