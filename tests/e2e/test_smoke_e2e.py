"""``sandbox-broker smoke`` against ``sandbox-broker up`` (two consumers, one CORS origin):
every check conforms; a gateway with one broken route makes it exit 1 naming that route;
and the gateway's /metrics carries the consumers' broker_* series, each once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consumers.stores.clients import AwsEndpoint, aws_clients
from producers.gateway import create_app
from producers.gateway.server import CLIENT_CONFIG, GatewayServer
from schemas.settings import GatewaySettings
from tests.e2e.conftest import RunningStack, start_stack, stop_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ORIGIN = "https://play.example"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("smoke"),
        pool_size=10,
        consumers=2,
        env={"BROKER_CORS_ORIGINS": ORIGIN},
    )
    try:
        yield running
    finally:
        stop_stack(running)


def smoke(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra", "smoke", "--url", url, *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_smoke_against_up_exits_0_with_every_check_done(stack: RunningStack) -> None:
    done = smoke(
        stack.url,
        "--token",
        stack.info["track_token"],
        "--admin-token",
        stack.info["admin_token"],
        "--origin",
        ORIGIN,
        "--json",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    outcomes = {c["check"]: c["outcome"] for c in report["checks"]}
    assert set(outcomes.values()) == {"ok"}, outcomes  # nothing skipped locally
    assert {"allocate", "release", "CORS preflight", "admin stats", "read own sandbox"} <= set(
        outcomes
    )
    assert all(t.startswith("smoke-") for t in report["tracks"])
    allocated = next(c for c in report["checks"] if c["check"] == "allocate")["detail"]
    assert report["released"] == [allocated.removeprefix("sandbox ")]
    assert report["elapsed_s"] < 55


def test_smoke_prints_a_table_and_skips_what_it_was_not_given(stack: RunningStack) -> None:
    done = smoke(stack.url, "--token", stack.info["track_token"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "allocate" in done.stdout and "skipped" in done.stdout
    assert "0 failed" in done.stdout


class BreakRoute:
    """Answers one route's 200s with a body that is not the contract's."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        broken = (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and path.startswith(self.prefix)
            and path.count("/") == 3
        )
        if not broken:
            await self.app(scope, receive, send)
            return

        ok = False

        async def rewrite(message: Message) -> None:
            nonlocal ok
            if message["type"] == "http.response.start" and message["status"] == 200:
                ok = True
                message["headers"] = [
                    (k, v) for k, v in message["headers"] if k.lower() != b"content-length"
                ]
            if ok and message["type"] == "http.response.body" and message.get("body"):
                message["body"] = b'{"sandbox": "broken"}'
            await send(message)

        await self.app(scope, receive, rewrite)


@pytest.fixture
async def broken_gateway(stack: RunningStack) -> AsyncIterator[str]:
    """A second gateway on the stack's queues and tables with GET /v1/sandboxes/{id} broken."""
    settings = GatewaySettings(
        name_prefix=stack.info["name_prefix"],
        aws_endpoint_url=stack.info["aws_endpoint_url"],
        track_token=stack.info["track_token"],
        admin_token=stack.info["admin_token"],
    )
    endpoint = AwsEndpoint(
        url=stack.info["aws_endpoint_url"],
        region="us-east-1",
        access_key_id="embedded",
        secret_access_key="embedded",
    )
    async with aws_clients(endpoint, CLIENT_CONFIG) as aws:
        app: Any = BreakRoute(
            create_app(settings, sqs=aws.sqs, ddb=aws.ddb), prefix="/v1/sandboxes/"
        )
        server = GatewayServer(app, host="127.0.0.1", port=0)
        serving = asyncio.create_task(server.serve())
        try:
            yield server.url
        finally:
            server.stop()
            await asyncio.wait_for(serving, timeout=15)


async def test_smoke_names_the_one_broken_route_and_exits_1(
    stack: RunningStack, broken_gateway: str
) -> None:
    done = await asyncio.to_thread(
        smoke, broken_gateway, "--token", stack.info["track_token"], "--json"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    failed = [(c["check"], c["route"]) for c in report["checks"] if c["outcome"] == "failed"]
    assert failed == [("read own sandbox", "GET /v1/sandboxes/{sandbox_id}")]
    assert "read own sandbox (GET /v1/sandboxes/{sandbox_id})" in done.stderr
    assert report["released"], "the sandbox it took was given back all the same"


async def test_the_gateways_metrics_serve_each_consumers_series_once(stack: RunningStack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    pool_lines = [
        line for line in text.splitlines() if "broker_pool" in line and not line.startswith("#")
    ]
    assert any(line.startswith("broker_pool_available ") for line in pool_lines)
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    instances: set[str] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in seen, key
            seen.add(key)
            if sample.name == "broker_federation_up":
                assert sample.value == 1.0
                instances.add(sample.labels["instance"])
    assert len(instances) == 2  # both consumers answered
    assert sum(1 for name, _ in seen if name == "broker_pool_available") == 1
