"""Tenants through the gateway on moto: the gateway app, the tenants store, and a consumer
step (``pump``) that handles every queued request with the real allocation service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from consumers.metrics import BrokerMetrics
from consumers.services.allocation import AllocationService
from consumers.services.replies import ReplyFactory
from consumers.services.reservoir import CandidateReservoir
from consumers.stores.pool import PoolStore
from consumers.stores.replies import ReplyStore
from consumers.stores.tenants import TenantDirectory, TenantStore
from producers.gateway import create_app
from schemas.messages import REQUEST_MESSAGE, AllocateMessage, ReleaseMessage
from schemas.replies import ReplyRecord
from schemas.settings import CommonSettings, GatewaySettings
from tests.factories import sandbox

TRACK = "it-default-track-token-0123456789"
ADMIN = "it-admin-token-0123456789abcdef"
SIGNING = "it-signing-secret-0123456789abcdef"


@dataclass
class TenantsEnv:
    settings: GatewaySettings
    client: httpx.AsyncClient
    sqs: Any
    ddb: Any
    store: TenantStore
    pool: PoolStore
    service: AllocationService
    clock: list[float]
    handled: list[ReplyRecord] = field(default_factory=list)

    async def seed(self, count: int, *, prefix: str = "lab-aws", start: int = 0) -> None:
        for n in range(start, start + count):
            assert await self.pool.put_available(sandbox(n, prefix=prefix))

    async def pump(self) -> list[ReplyRecord]:
        """Handle every queued request once, as a consumer would; the replies written."""
        url = (await self.sqs.get_queue_url(QueueName=self.settings.names.requests_queue))[
            "QueueUrl"
        ]
        done: list[ReplyRecord] = []
        while True:
            resp = await self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            batch = resp.get("Messages", [])
            if not batch:
                self.handled += done
                return done
            for m in batch:
                message = REQUEST_MESSAGE.validate_json(m["Body"])
                if isinstance(message, AllocateMessage):
                    done.append(await self.service.allocate(message))
                elif isinstance(message, ReleaseMessage):
                    done.append(await self.service.release(message))
                await self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    async def call(
        self, method: str, path: str, token: str, track_id: str | None = None, **headers: str
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {token}", **headers}
        if track_id is not None:
            sent["X-Instruqt-Sandbox-ID"] = track_id
        return await self.client.request(method, path, headers=sent)

    async def allocate(self, token: str, track_id: str, **headers: str) -> dict[str, Any]:
        """POST allocate, pump, GET the reply as the same caller: the reply body."""
        resp = await self.call("POST", "/v1/allocate", token, track_id, **headers)
        assert resp.status_code == 202, resp.text
        await self.pump()
        got = await self.call("GET", resp.json()["poll"], token, track_id)
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body


def make_env(
    provisioned: CommonSettings, sqs: Any, ddb: Any, clock: list[float], **overrides: Any
) -> tuple[GatewaySettings, TenantStore, PoolStore, AllocationService]:
    settings = GatewaySettings(
        name_prefix=provisioned.name_prefix,
        aws_endpoint_url=provisioned.aws_endpoint_url,
        track_token=TRACK,
        admin_token=ADMIN,
        token_signing_secret=SIGNING,
        **overrides,
    )
    names = settings.names
    store = TenantStore(ddb, table=names.tenants_table)
    replies = ReplyStore(ddb, table=names.replies_table)
    pool = PoolStore(ddb, table=names.pool_table, replies=replies)
    reservoir = CandidateReservoir(
        lambda prefix, limit, start: pool.candidate_page(
            name_prefix=prefix, limit=limit, start_key=start
        ),
        page_size=100,
    )
    directory = TenantDirectory(store, ttl_s=settings.tenant_cache_ttl_s, clock=lambda: clock[0])
    service = AllocationService(
        pool,
        reservoir=reservoir,
        reply_factory=ReplyFactory(ttl_s=3600),
        metrics=BrokerMetrics(CollectorRegistry()),
        lab_duration_s=4 * 3600,
        tenants=directory.config,
    )
    return settings, store, pool, service


@pytest.fixture
async def tenants_env(provisioned: CommonSettings, sqs: Any, ddb: Any) -> AsyncIterator[TenantsEnv]:
    clock = [1_000_000.0]
    settings, store, pool, service = make_env(provisioned, sqs, ddb, clock)
    app = create_app(settings, sqs=sqs, ddb=ddb, clock=lambda: clock[0])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        yield TenantsEnv(settings, client, sqs, ddb, store, pool, service, clock)
