"""Gateway apps on fake AWS clients, and an httpx client on each (in-process ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from producers.gateway import create_app
from schemas.settings import GatewaySettings
from tests.unit.gateway.fakes import ADMIN, TRACK, FakeDDB, FakeSQS


@pytest.fixture
def fake_sqs() -> FakeSQS:
    return FakeSQS()


@pytest.fixture
def fake_ddb() -> FakeDDB:
    return FakeDDB()


@pytest.fixture
def make_app(fake_sqs: FakeSQS, fake_ddb: FakeDDB) -> Callable[..., FastAPI]:
    def make(**overrides: Any) -> FastAPI:
        values: dict[str, Any] = {"track_token": TRACK, "admin_token": ADMIN, **overrides}
        return create_app(GatewaySettings(**values), sqs=fake_sqs, ddb=fake_ddb)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def client(make_app: Callable[..., FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
        yield c
