"""Health routes need no token; readiness says which dependency does not answer, naming the
queue or table only to the admin token (anonymous callers never learn internal names)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from producers.gateway import create_app
from schemas.settings import CommonSettings
from tests.integration.gateway.helpers import ADMIN, GatewayEnv, gateway_settings

pytestmark = pytest.mark.integration


async def test_ready_when_the_queue_and_table_answer(gw: GatewayEnv) -> None:
    response = await gw.client.get("/readyz")
    assert response.status_code == 200
    names = gw.settings.names
    assert response.json() == {"status": "ready", "checks": {"sqs": "ok", "dynamodb": "ok"}}
    named = await gw.client.get("/readyz", headers={"Authorization": f"Bearer {ADMIN}"})
    assert named.json() == {
        "status": "ready",
        "checks": {f"sqs:{names.requests_queue}": "ok", f"dynamodb:{names.replies_table}": "ok"},
    }
    assert (await gw.client.get("/healthz")).status_code == 200


async def test_not_ready_names_each_missing_dependency(moto_url: str, sqs: Any, ddb: Any) -> None:
    settings = gateway_settings(
        CommonSettings(name_prefix="absent-", aws_endpoint_url=moto_url), track_token="x" * 24
    )
    admin = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    app = create_app(settings, sqs=sqs, ddb=ddb)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw.test"
    ) as client:
        anonymous = await client.get("/readyz")
        assert anonymous.status_code == 503
        assert set(anonymous.json()["checks"]) == {"sqs", "dynamodb"}
        assert "absent-" not in anonymous.text
        response = await client.get("/readyz", headers=admin)
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not_ready"
        assert (
            body["checks"]["dynamodb:absent-sandbox-replies"] == "error: ResourceNotFoundException"
        )
        assert body["checks"]["sqs:absent-sandbox-requests.fifo"].startswith("error: ")
        assert body["error"]["code"] == "QUEUE_UNAVAILABLE"
        assert "dynamodb:absent-sandbox-replies" in body["error"]["message"]
        assert "sqs:absent-sandbox-requests.fifo" in body["error"]["message"]
        # liveness does not depend on AWS
        assert (await client.get("/healthz")).status_code == 200
        # and a request that needs the missing table is a 503, not a 500
        read = await client.get(
            "/v1/requests/req_1",
            headers={"Authorization": "Bearer " + "x" * 24, "X-Track-ID": "t"},
        )
        assert read.status_code == 503
        assert read.json()["error"]["code"] == "QUEUE_UNAVAILABLE"
