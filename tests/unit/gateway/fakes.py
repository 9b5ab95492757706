"""Fakes for the gateway's two AWS clients (no network): SQS records sends, DynamoDB holds rows."""

from __future__ import annotations

from typing import Any

TRACK = "track-secret-0123456789abcdef"
ADMIN = "admin-secret-0123456789abcdef"


class FakeSQS:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail: Exception | None = None

    async def get_queue_url(self, *, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": f"https://sqs.test/000000000000/{QueueName}"}

    async def send_message(self, **kwargs: Any) -> dict[str, str]:
        if self.fail is not None:
            raise self.fail
        self.sent.append(kwargs)
        return {"MessageId": str(len(self.sent))}

    async def get_queue_attributes(self, **kwargs: Any) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        return {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:000000000000:q"}}


class FakeDDB:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.fail: Exception | None = None

    async def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        key = next(iter(Key.values()))["S"]
        item = self.items.get((TableName, key))
        return {"Item": item} if item is not None else {}

    async def query(self, **_: Any) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        return {"Items": [], "Count": 0}

    async def describe_table(self, *, TableName: str) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        return {"Table": {"TableName": TableName}}


def track_headers(track_id: str = "track-1", **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TRACK}", "X-Instruqt-Sandbox-ID": track_id, **extra}


def admin_headers(**extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}", **extra}
