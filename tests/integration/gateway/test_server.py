"""The gateway served over real HTTP: the track client against it, and the CLI command."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from typing import Any

import httpx
import pytest

from producers.gateway import create_app
from producers.gateway.server import GatewayServer
from producers.track_client import NoSandboxesAvailableReplyError, TrackClient
from schemas.errors import ErrorCode
from schemas.replies import ReplyError, ReplyRecord, ReplyStatus
from schemas.settings import CommonSettings
from tests.factories import wait_until
from tests.integration.gateway.helpers import ADMIN, TRACK, GatewayEnv, gateway_settings

pytestmark = pytest.mark.integration


async def test_the_track_client_enqueues_and_reads_replies_over_http(
    provisioned: CommonSettings, sqs: Any, ddb: Any, gw: GatewayEnv
) -> None:
    settings = gateway_settings(provisioned)
    server = GatewayServer(create_app(settings, sqs=sqs, ddb=ddb), host="127.0.0.1", port=0)
    serving = asyncio.create_task(server.serve())
    try:
        async with TrackClient(server.url, TRACK) as client:
            allocating = asyncio.create_task(client.allocate("inst-1", track_name="aws-101"))
            queued: list[dict[str, Any]] = []

            async def enqueued() -> bool:
                queued.extend(await gw.receive(settings.names.requests_queue))
                return bool(queued)

            await wait_until(enqueued, timeout=5, what="the allocate message")
            request_id = json.loads(queued[0]["Body"])["request_id"]
            # what a consumer writes once the pool turns out to be empty
            await gw.put_reply(
                ReplyRecord(
                    request_id=request_id,
                    action="allocate",
                    status=ReplyStatus.FAILED,
                    error=ReplyError(
                        code=ErrorCode.NO_SANDBOXES_AVAILABLE, message="none", retry_after=30
                    ),
                    track_id="inst-1",
                )
            )
            with pytest.raises(NoSandboxesAvailableReplyError) as caught:
                await allocating
            assert (caught.value.request_id, caught.value.retry_after) == (request_id, 30)
            reply = await client.status(request_id, track_id="inst-1")
            assert reply.error is not None and reply.error.code == "NO_SANDBOXES_AVAILABLE"
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/healthz")).status_code == 200
    finally:
        server.stop()
        await asyncio.wait_for(serving, timeout=15)


async def test_the_gateway_command_serves_until_interrupted(
    provisioned: CommonSettings,
) -> None:
    env = {
        **os.environ,
        "BROKER_AWS_ENDPOINT_URL": provisioned.aws_endpoint_url or "",
        "BROKER_NAME_PREFIX": provisioned.name_prefix,
        "BROKER_TRACK_TOKEN": TRACK,
        "BROKER_ADMIN_TOKEN": ADMIN,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from producers.cli import gateway_app; gateway_app()",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        url = None
        while url is None:  # the first log line names the bound URL
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)  # type: ignore[union-attr]
            assert line, "the gateway exited before listening"
            found = re.search(rb"gateway_listening.*url=(http://\S+)", line)
            url = found.group(1).decode() if found else None
        async with httpx.AsyncClient(base_url=url) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            accepted = await http.post(
                "/v1/allocate",
                headers={"Authorization": f"Bearer {TRACK}", "X-Track-ID": "cli-1"},
            )
            assert accepted.status_code == 202
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
        stderr = await proc.stderr.read()  # type: ignore[union-attr]
        assert b"Traceback" not in stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
