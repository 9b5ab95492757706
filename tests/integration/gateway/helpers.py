"""Helpers for the gateway on moto: the test env, row writers, request headers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from consumers.stores.replies import ReplyStore
from schemas.items import to_item
from schemas.pool import Sandbox, SandboxStatus, sandbox_key
from schemas.replies import ReplyRecord
from schemas.settings import CommonSettings, GatewaySettings

TRACK = "it-track-token-0123456789abcdef"
ADMIN = "it-admin-token-0123456789abcdef"


class RecordingClient:
    """Forwards to a real aiobotocore client and remembers which operations were called."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if callable(attr) and not name.startswith("_"):

            async def call(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return await attr(*args, **kwargs)

            return call
        return attr


@dataclass
class GatewayEnv:
    settings: GatewaySettings
    client: httpx.AsyncClient
    sqs: Any
    ddb: RecordingClient
    _urls: dict[str, str] = field(default_factory=dict)

    async def url(self, queue: str) -> str:
        if queue not in self._urls:
            self._urls[queue] = (await self.sqs.get_queue_url(QueueName=queue))["QueueUrl"]
        return self._urls[queue]

    async def depth(self, queue: str) -> int:
        """Messages in the queue, visible or not (moto counts them exactly, no wait needed)."""
        attrs = (
            await self.sqs.get_queue_attributes(
                QueueUrl=await self.url(queue),
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    async def enqueued(self) -> int:
        names = self.settings.names
        return await self.depth(names.requests_queue) + await self.depth(names.jobs_queue)

    async def receive(self, queue: str) -> list[dict[str, Any]]:
        """Every message in the queue, with its system and message attributes."""
        got: list[dict[str, Any]] = []
        while True:
            resp = await self.sqs.receive_message(
                QueueUrl=await self.url(queue),
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch = resp.get("Messages", [])
            if not batch:
                return got
            got += batch

    async def put_reply(self, record: ReplyRecord) -> None:
        """Write a reply row exactly as the consumers do."""
        await ReplyStore(self.ddb._client, table=self.settings.names.replies_table).put(record)

    async def put_sandbox(self, sandbox: Sandbox) -> None:
        item = {k: {"S": v} for k, v in sandbox_key(sandbox.sandbox_id).items()}
        item.update(to_item(sandbox.model_dump()))
        await self.ddb._client.put_item(TableName=self.settings.names.pool_table, Item=item)


def make_sandbox(
    n: int, status: SandboxStatus = SandboxStatus.AVAILABLE, track: str | None = None
) -> Sandbox:
    allocated = status is not SandboxStatus.AVAILABLE
    return Sandbox(
        sandbox_id=f"sbx-{n:05d}",
        name=f"lab-aws-{n:05d}",
        external_id=f"identity/accounts/00000000-0000-0000-0000-{n:012d}",
        status=status,
        allocated_to_track=track if allocated else None,
        allocated_at=1_732_345_678.125 + n if allocated else 0,
        expires_at=1_732_345_678.125 + n + 16_200 if allocated else None,
    )


def gateway_settings(common: CommonSettings, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "name_prefix": common.name_prefix,
        "aws_endpoint_url": common.aws_endpoint_url,
        "track_token": TRACK,
        "admin_token": ADMIN,
        **overrides,
    }
    return GatewaySettings(**values)


def track(track_id: str = "track-1", **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TRACK}", "X-Instruqt-Sandbox-ID": track_id, **extra}


def admin(**extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}", **extra}


def body_of(message: dict[str, Any]) -> dict[str, Any]:
    return json.loads(message["Body"])
