"""Operator-tool fixtures: queue URLs of a provisioned stack, dead-letter factories, CLI runs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from producers.ops.cli import app
from producers.ops.dlq import REJECT_REASON_ATTRIBUTE
from schemas.items import reply_item
from schemas.messages import message_attributes
from schemas.replies import ReplyError, ReplyRecord, ReplyStatus
from schemas.settings import CommonSettings
from tests.factories import wait_until

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True, scope="package")
def _moto_release_is_immediate(moto_url: str) -> Iterator[None]:
    """Work around a moto 5.2.5 bug that breaks FIFO order after ChangeMessageVisibility 0.

    moto tests ``now > visible_at``; right after a release sets ``visible_at = now`` the
    message can still read as invisible, so it is left in the queue's pending set while
    visible. The next receive then skips it while delivering its group's later messages:
    a FIFO violation AWS never commits (and that a non-consuming ``dlq list`` followed by a
    replay hits about once in ten runs). ``>=`` makes "visible now" mean visible now. Scoped
    to this package; the lead may want it in ``infra/embedded/moto.py`` for everyone.
    """
    import moto.sqs.models as sqs_models

    original = sqs_models.Message.visible
    sqs_models.Message.visible = property(  # type: ignore[method-assign, assignment]
        lambda self: sqs_models.unix_time_millis() >= self.visible_at  # type: ignore[attr-defined]
    )
    try:
        yield
    finally:
        sqs_models.Message.visible = original  # type: ignore[method-assign]


@dataclass
class Stack:
    """A provisioned stack and the handles tests need to fill it and run the CLI on it."""

    settings: CommonSettings
    sqs: Any
    ddb: Any
    urls: dict[str, str]  # queue name -> URL

    @property
    def names(self):
        return self.settings.names

    def url(self, name: str) -> str:
        return self.urls[name]

    @property
    def env(self) -> dict[str, str]:
        """What a CLI process needs to find this stack."""
        assert self.settings.aws_endpoint_url is not None
        return {
            "BROKER_NAME_PREFIX": self.settings.name_prefix,
            "AWS_ENDPOINT_URL": self.settings.aws_endpoint_url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            # moto answers every receive at once: no long poll needed to see all messages
            "BROKER_RECEIVE_WAIT_S": "0",
        }

    async def dead_letter(
        self,
        message: Any,
        *,
        group: str,
        dlq: str | None = None,
        reason: str | None = None,
    ) -> str:
        """Put ``message`` in a DLQ as the broker's reject="dlq" does: original body,
        attributes and group id, plus the reason attribute when given."""
        dlq = dlq or self.names.requests_dlq
        attrs: dict[str, Any] = {
            k: {"DataType": "String", "StringValue": v}
            for k, v in message_attributes(message, type_=message.type).items()
        }
        if reason is not None:
            attrs[REJECT_REASON_ATTRIBUTE] = {"DataType": "String", "StringValue": reason}
        resp = await self.sqs.send_message(
            QueueUrl=self.url(dlq),
            MessageBody=message.model_dump_json(),
            MessageGroupId=group,
            MessageDeduplicationId=message.request_id,
            MessageAttributes=attrs,
        )
        return resp["MessageId"]

    async def dead_lettered_reply(self, message: Any, *, track_id: str | None) -> None:
        """The failed DEAD_LETTERED reply the consumer writes on a message's last receive."""
        record = ReplyRecord(
            request_id=message.request_id,
            action=message.type,
            status=ReplyStatus.FAILED,
            error=ReplyError(code="DEAD_LETTERED", message="handler failed: RuntimeError"),
            track_id=track_id,
            attempts=5,
            completed_at=1.0,
        )
        await self.ddb.put_item(TableName=self.names.replies_table, Item=reply_item(record))

    async def depth(self, name: str) -> tuple[int, int]:
        attrs = (
            await self.sqs.get_queue_attributes(QueueUrl=self.url(name), AttributeNames=["All"])
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    async def wait_depth(self, name: str, visible: int, in_flight: int = 0) -> None:
        async def there() -> bool:
            return await self.depth(name) == (visible, in_flight)

        await wait_until(there, timeout=10, what=f"{name} at {visible} visible/{in_flight} held")

    async def drain(self, name: str) -> list[dict[str, Any]]:
        """Receive and delete everything, batch by batch: per group, the order SQS gives."""
        got: list[dict[str, Any]] = []
        while True:
            resp = await self.sqs.receive_message(
                QueueUrl=self.url(name),
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=30,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch = resp.get("Messages", [])
            if not batch:
                return got
            got += batch
            await self.sqs.delete_message_batch(
                QueueUrl=self.url(name),
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )


def per_group(messages: list[dict[str, Any]]) -> dict[str, list[str]]:
    """request ids per group, in the order received."""
    out: dict[str, list[str]] = defaultdict(list)
    for m in messages:
        out[m["Attributes"]["MessageGroupId"]].append(json.loads(m["Body"])["request_id"])
    return dict(out)


@pytest.fixture
async def stack(provisioned: CommonSettings, sqs, ddb) -> Stack:
    names = provisioned.names
    urls = {}
    for name in (names.requests_queue, names.requests_dlq, names.jobs_queue, names.jobs_dlq):
        urls[name] = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    return Stack(provisioned, sqs, ddb, urls)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


async def run_cli(args: list[str], env: dict[str, str]) -> CliResult:
    """The CLI in this process (CliRunner, in a thread: it runs its own event loop)."""
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, app, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


async def spawn_cli(
    args: list[str], env: dict[str, str], *, module: str = "producers.ops.cli"
) -> asyncio.subprocess.Process:
    """The CLI as a real process (``python -m producers.ops.cli``, or a test's own entry
    point that runs the same app with hooks)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_"))}
    full_env.update(env)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=ROOT,
        env=full_env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def cli_process(args: list[str], env: dict[str, str], timeout: float = 60) -> CliResult:
    proc = await spawn_cli(args, env)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    assert proc.returncode is not None
    return CliResult(proc.returncode, stdout.decode(), stderr.decode())
