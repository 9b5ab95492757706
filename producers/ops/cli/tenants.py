"""``tenants add | list | show | rotate | revoke | set | mint``: the tenants store.

Every command reaches the table on the endpoint the other operator commands use (the local
stack, LocalStack, AWS: ``BROKER_AWS_ENDPOINT_URL`` / the AWS environment) through
``consumers/stores/tenants.py``. A token is printed once, by ``add`` and ``rotate``; the
table holds only its SHA-256.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table

from consumers.stores.clients import AwsClients
from consumers.stores.pool import PoolStore
from consumers.stores.replies import ReplyStore
from consumers.stores.tenants import IssuedToken, TenantStore, TenantStoreError
from producers.exits import ExitCode, fail
from producers.ops.cli.output import JsonOpt, out, print_json, reflowed
from producers.ops.cli.runner import load_settings, run
from producers.ops.errors import OpsError
from producers.ops.settings import OpsSettings
from schemas.ids import DEFAULT_TENANT, is_name_prefix, is_tenant_name
from schemas.tenants import DEFAULT_CONFIG, TenantConfig, mint_for, parse_duration

tenants_app = typer.Typer(
    help="Manage tenants: their tokens (stored as SHA-256 only), prefixes, quota and rate."
)

NameArg = Annotated[str, typer.Argument(help="Tenant name: ^[a-z0-9][a-z0-9_-]{0,31}$.")]
PrefixOpt = Annotated[
    list[str] | None,
    typer.Option("--prefix", "-p", help="A sandbox name prefix it may get (repeat for more)."),
]
MaxActiveOpt = Annotated[
    int | None, typer.Option("--max-active", min=0, help="Sandboxes it may hold at once.")
]
RateOpt = Annotated[
    int | None, typer.Option("--rate-per-min", min=1, help="Its requests per minute, all tracks.")
]


def _name(name: str) -> str:
    if not is_tenant_name(name):
        fail(f"invalid tenant name {name!r}: ^[a-z0-9][a-z0-9_-]{{0,31}}$", ExitCode.USAGE)
    return name


def _prefixes(values: list[str] | None) -> tuple[str, ...]:
    for p in values or ():
        if not is_name_prefix(p):
            fail(f"invalid prefix {p!r}: 1-64 chars of [A-Za-z0-9._:@-]", ExitCode.USAGE)
    return tuple(values or ())


def _store(settings: OpsSettings, clients: AwsClients) -> TenantStore:
    return TenantStore(clients.ddb, table=settings.names.tenants_table)


async def _guarded(call: Any) -> Any:
    try:
        return await call
    except TenantStoreError as exc:
        raise OpsError(str(exc)) from None


def _view(config: TenantConfig, active: int | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "tenant": config.name,
        "prefixes": list(config.prefixes),
        "max_active": config.max_active,
        "rate_per_min": config.rate_per_min,
        "require_track_tokens": config.require_track_tokens,
        "key_version": config.key_version,
        "tokens": [{"token_id": t.token_id, "created_at": t.created_at} for t in config.tokens],
    }
    if active is not None:
        view["active"] = active
    return view


def _issued(issued: IssuedToken, as_json: bool) -> None:
    body = {"tenant": issued.tenant, "token_id": issued.token_id, "token": issued.token}
    if as_json:
        print_json(body)
        return
    out.print(f"tenant [bold]{issued.tenant}[/bold]  token id {issued.token_id}")
    out.print("token (shown once, only its SHA-256 is stored):")
    typer.echo(issued.token)


def _show(view: dict[str, Any]) -> None:
    table = Table("field", "value", title=f"tenant {view['tenant']}")
    for key, value in view.items():
        if key == "tokens":
            value = ", ".join(t["token_id"] for t in value) or "-"
        elif key == "prefixes":
            value = ", ".join(value) or "(any sandbox)"
        table.add_row(key, "-" if value is None else str(value))
    out.print(table)


@tenants_app.command("add")
@reflowed
def tenants_add(
    name: NameArg,
    prefix: PrefixOpt = None,
    max_active: MaxActiveOpt = None,
    rate_per_min: RateOpt = None,
    require_track_tokens: Annotated[
        bool, typer.Option("--require-track-tokens", help="Accept only signed tokens.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a tenant and print its first token (shown once).

    Examples:

      sandbox-broker tenants add acme --prefix lab-aws --max-active 50 --rate-per-min 600

      sandbox-broker tenants add acme --json | jq -r .token
    """
    settings = load_settings()
    prefixes = _prefixes(prefix)
    issued = run(
        settings,
        lambda c: _guarded(
            _store(settings, c).add(
                _name(name),
                prefixes=prefixes,
                max_active=max_active,
                rate_per_min=rate_per_min,
                require_track_tokens=require_track_tokens,
            )
        ),
    )
    _issued(issued, as_json)


@tenants_app.command("list")
@reflowed
def tenants_list(as_json: JsonOpt = False) -> None:
    """Every tenant (one Query on the tenants table). ``--json``: a list of ``show`` objects."""
    settings = load_settings()
    configs = run(settings, lambda c: _store(settings, c).list())
    views = [_view(cfg) for cfg in configs]
    if as_json:
        print_json(views)
        return
    table = Table("tenant", "prefixes", "max_active", "rate_per_min", "signed only", "tokens")
    for v in views:
        table.add_row(
            v["tenant"],
            ", ".join(v["prefixes"]) or "(any)",
            "-" if v["max_active"] is None else str(v["max_active"]),
            "-" if v["rate_per_min"] is None else str(v["rate_per_min"]),
            "yes" if v["require_track_tokens"] else "no",
            str(len(v["tokens"])),
        )
    out.print(table)


@tenants_app.command("show")
@reflowed
def tenants_show(name: NameArg, as_json: JsonOpt = False) -> None:
    """One tenant: its settings, token ids and the sandboxes it holds now (``active``)."""
    settings = load_settings()
    tenant = _name(name)

    async def work(c: AwsClients) -> dict[str, Any]:
        config = await _store(settings, c).get(tenant)
        if config is None:
            if tenant != DEFAULT_TENANT:
                raise OpsError(f"no tenant {tenant!r}")
            config = DEFAULT_CONFIG
        names = settings.names
        pool = PoolStore(
            c.ddb, table=names.pool_table, replies=ReplyStore(c.ddb, table=names.replies_table)
        )
        return _view(config, await pool.count_active(tenant))

    view = run(settings, work)
    if as_json:
        print_json(view)
        return
    _show(view)


@tenants_app.command("rotate")
@reflowed
def tenants_rotate(name: NameArg, as_json: JsonOpt = False) -> None:
    """Add a token (printed once); the old ones stay valid until ``revoke``.

    Rotation with overlap: hand the new token out, then revoke the old one's id. Every
    host stops accepting a revoked token within BROKER_TENANT_CACHE_TTL_S.
    """
    settings = load_settings()
    issued = run(settings, lambda c: _guarded(_store(settings, c).rotate(_name(name))))
    _issued(issued, as_json)


@tenants_app.command("revoke")
@reflowed
def tenants_revoke(
    name: NameArg,
    token_id: Annotated[str, typer.Argument(help="The token id (`tenants show`).")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke one token by id."""
    settings = load_settings()
    run(settings, lambda c: _guarded(_store(settings, c).revoke(_name(name), token_id)))
    body = {"tenant": name, "token_id": token_id, "revoked": True}
    if as_json:
        print_json(body)
        return
    out.print(f"revoked {token_id} of tenant {name}")


@tenants_app.command("set")
@reflowed
def tenants_set(
    name: NameArg,
    prefix: PrefixOpt = None,
    any_prefix: Annotated[
        bool, typer.Option("--any-prefix", help="Clear the prefixes: every sandbox.")
    ] = False,
    max_active: MaxActiveOpt = None,
    unlimited: Annotated[bool, typer.Option("--unlimited", help="Clear max_active.")] = False,
    rate_per_min: RateOpt = None,
    no_rate: Annotated[bool, typer.Option("--no-rate", help="Clear rate_per_min.")] = False,
    require_track_tokens: Annotated[
        bool | None,
        typer.Option(
            "--require-track-tokens/--accept-plain-tokens",
            help="Accept only signed track tokens, or plain tokens too.",
        ),
    ] = None,
    new_signing_key: Annotated[
        bool,
        typer.Option("--new-signing-key", help="Bump key_version: every minted token stops."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change a tenant's settings; prints the tenant as ``show`` does.

    Examples:

      sandbox-broker tenants set acme --max-active 80 --prefix lab-aws --prefix lab-gcp

      sandbox-broker tenants set acme --unlimited --require-track-tokens
    """
    settings = load_settings()
    changes: dict[str, Any] = {}
    if prefix:
        changes["prefixes"] = _prefixes(prefix)
    if any_prefix:
        changes["prefixes"] = ()
    if max_active is not None or unlimited:
        changes["max_active"] = None if unlimited else max_active
    if rate_per_min is not None or no_rate:
        changes["rate_per_min"] = None if no_rate else rate_per_min
    if require_track_tokens is not None:
        changes["require_track_tokens"] = require_track_tokens
    tenant = _name(name)

    async def work(c: AwsClients) -> TenantConfig:
        store = _store(settings, c)
        if new_signing_key:
            current = await _guarded(store.get(tenant))
            if current is None:
                raise OpsError(f"no tenant {tenant!r}")
            changes["key_version"] = current.key_version + 1
        if not changes:
            raise OpsError("nothing to change (see --help)")
        updated: TenantConfig = await _guarded(store.set(tenant, **changes))
        return updated

    view = _view(run(settings, work))
    if as_json:
        print_json(view)
        return
    _show(view)


@tenants_app.command("mint")
@reflowed
def tenants_mint(
    name: NameArg,
    track_id: Annotated[str, typer.Argument(help="The track id the token binds.")],
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: 90s, 30m, 6h, 1d (max 7d).")] = "6h",
    as_json: JsonOpt = False,
) -> None:
    """Mint a signed track token (``sbt1.``) binding TRACK_ID for --ttl.

    Needs BROKER_TOKEN_SIGNING_SECRET (the gateway's and authorizer's). With it, the track
    header must equal TRACK_ID (else 403); after expiry it is refused (401).

    Examples:

      sandbox-broker tenants mint acme "$INSTRUQT_PARTICIPANT_ID" --ttl 6h --json
    """
    settings = load_settings()
    if settings.token_signing_secret is None:
        fail("BROKER_TOKEN_SIGNING_SECRET is not set", ExitCode.USAGE)
    secret = settings.token_signing_secret.get_secret_value()
    try:
        ttl_s = parse_duration(ttl)
    except ValueError as exc:
        fail(str(exc), ExitCode.USAGE)
    tenant = _name(name)

    async def work(c: AwsClients) -> tuple[str, int]:
        config = await _store(settings, c).get(tenant)
        if config is None:
            if tenant != DEFAULT_TENANT:
                raise OpsError(f"no tenant {tenant!r}")
            config = DEFAULT_CONFIG
        try:
            return mint_for(config, track_id, ttl_s=ttl_s, secret=secret, now=time.time())
        except ValueError as exc:
            raise OpsError(str(exc)) from None

    token, expires_at = run(settings, work)
    body = {"tenant": tenant, "track_id": track_id, "token": token, "expires_at": expires_at}
    if as_json:
        print_json(body)
        return
    typer.echo(token)
