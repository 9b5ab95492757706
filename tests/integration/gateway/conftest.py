"""The gateway on a real moto server: an app per test on that test's queues and tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from producers.gateway import create_app
from schemas.settings import CommonSettings
from tests.integration.gateway.helpers import GatewayEnv, RecordingClient, gateway_settings


@pytest.fixture
async def gw(provisioned: CommonSettings, sqs: Any, ddb: Any) -> AsyncIterator[GatewayEnv]:
    settings = gateway_settings(provisioned)
    recording = RecordingClient(ddb)
    app = create_app(settings, sqs=sqs, ddb=recording)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        yield GatewayEnv(settings=settings, client=client, sqs=sqs, ddb=recording)
