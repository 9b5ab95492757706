"""Tenant admin routes (v2): ``POST /v1/admin/tenants/{name}/track-tokens`` mints a signed
track token, as ``sandbox-broker tenants mint`` does (one implementation: ``mint_for``).

Only ``Reads`` is used (auth, the tenants store, settings): ``code_routes`` includes this
router, so the local gateway and the read Lambda (API Gateway proxies the route to it)
serve the same handler. Minting writes nothing: it reads the tenant and signs.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from producers.gateway.auth import Role
from producers.gateway.context import annotate
from producers.gateway.errors import BadRequestError, NotFoundError, ServiceUnavailableError
from producers.gateway.gateway import ADMIN_BUDGET, Reads
from producers.gateway.openapi import ADMIN_SECURITY, error_responses
from producers.gateway.validation import json_object_body
from schemas.ids import DEFAULT_TENANT, TrackId, is_tenant_name
from schemas.tenants import DEFAULT_CONFIG, MAX_SIGNED_TTL_S, MIN_SIGNED_TTL_S, mint_for


class MintRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    track_id: TrackId
    ttl_s: int = Field(6 * 3600, ge=MIN_SIGNED_TTL_S, le=MAX_SIGNED_TTL_S)


class MintedToken(BaseModel):
    tenant: str
    track_id: str
    token: str
    expires_at: int


def tenant_routes(gw: Reads, router: APIRouter) -> APIRouter:
    """Register the tenant routes on ``router`` (``code_routes``' own: included routers are
    not listed in its routes, which the Terraform check reads)."""

    @router.post(
        "/v1/admin/tenants/{name}/track-tokens",
        tags=["admin"],
        summary="Mint a signed track token (sbt1) binding one track id of the tenant",
        status_code=201,
        response_model=None,
        responses={
            201: {"model": MintedToken, "description": "The token (shown once)"},
            **error_responses(400, 401, 403, 404, 413, 429, 503),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": MintRequest.model_json_schema()}},
            },
            "security": ADMIN_SECURITY,
        },
    )
    async def mint(request: Request) -> JSONResponse:
        annotate(request.scope, action="mint_track_token")
        await gw.auth.principal(request.headers, Role.ADMIN)
        name = request.path_params["name"]
        if not is_tenant_name(name):
            raise BadRequestError("the tenant name must match ^[a-z0-9][a-z0-9_-]{0,31}$")
        gw.limit(Role.ADMIN, ADMIN_BUDGET)
        raw = await json_object_body(request, max_bytes=gw.settings.max_body_bytes)
        try:
            asked = MintRequest.model_validate(raw)
        except ValidationError:
            raise BadRequestError(
                "body: {track_id: 1-128 chars of [A-Za-z0-9._:@-], "
                f"ttl_s: {MIN_SIGNED_TTL_S}-{MAX_SIGNED_TTL_S}}}"
            ) from None
        secret = gw.settings.token_signing_secret
        if secret is None:
            raise NotFoundError("signed track tokens are not configured (no signing secret)")
        try:
            config = await gw.tenants.store.get(name)
        except Exception as exc:
            raise ServiceUnavailableError("the tenants table did not answer") from exc
        if config is None:
            if name != DEFAULT_TENANT:
                raise NotFoundError("no such tenant")
            config = DEFAULT_CONFIG
        token, expires_at = mint_for(
            config,
            asked.track_id,
            ttl_s=asked.ttl_s,
            secret=secret.get_secret_value(),
            now=gw.auth.now(),
        )
        annotate(request.scope, tenant=name, track_id=asked.track_id, outcome="minted")
        body = MintedToken(tenant=name, track_id=asked.track_id, token=token, expires_at=expires_at)
        return JSONResponse(body.model_dump(), status_code=201)

    return router
