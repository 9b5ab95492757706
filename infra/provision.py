"""Create the queues, DLQs, redrive policies and tables that CONTRACT.md names, idempotently.

The specs below are plain data so the Terraform drift test can compare against them. Run on
any endpoint (moto, LocalStack, AWS); a second run changes nothing and reports ``unchanged``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

import structlog
from botocore.exceptions import ClientError

from schemas.pool import IDEMPOTENCY_INDEX, STATUS_INDEX, TRACK_INDEX
from schemas.settings import CommonSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient

log = structlog.get_logger(__name__)


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    attributes: dict[str, str]
    dlq: str | None = None  # the dead-letter queue this queue redrives to
    max_receive_count: int = 5


@dataclass(frozen=True)
class TableSpec:
    name: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    global_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    ttl_attribute: str | None = None
    #: v2: the table's DynamoDB Stream (history and events are derived from it), or None.
    stream_view_type: str | None = None


@dataclass
class ProvisionReport:
    changes: list[tuple[str, Change]] = field(default_factory=list)

    def add(self, resource: str, change: Change) -> None:
        self.changes.append((resource, change))
        log.info("resource_provisioned", resource=resource, outcome=change.value)

    @property
    def changed(self) -> bool:
        return any(c is not Change.UNCHANGED for _, c in self.changes)


def queue_specs(settings: CommonSettings) -> list[QueueSpec]:
    """Both FIFO queues and their DLQs (high-throughput FIFO, SSE, CONTRACT.md timeouts)."""
    names = settings.names
    base = {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "false",
        "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId",
        "VisibilityTimeout": str(settings.visibility_timeout_s),
        "MessageRetentionPeriod": str(settings.message_retention_s),
        "ReceiveMessageWaitTimeSeconds": "20",
        "SqsManagedSseEnabled": "true",
    }
    return [
        QueueSpec(names.requests_dlq, dict(base)),
        QueueSpec(names.jobs_dlq, dict(base)),
        QueueSpec(
            names.requests_queue,
            dict(base),
            dlq=names.requests_dlq,
            max_receive_count=settings.max_receive_count,
        ),
        QueueSpec(
            names.jobs_queue,
            dict(base),
            dlq=names.jobs_dlq,
            max_receive_count=settings.max_receive_count,
        ),
    ]


def _key_schema(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _gsi(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": _key_schema(hash_key, range_key),
        "Projection": {"ProjectionType": "ALL"},
    }


def table_specs(settings: CommonSettings) -> list[TableSpec]:
    names = settings.names
    return [
        TableSpec(
            name=names.pool_table,
            key_schema=_key_schema("PK", "SK"),
            attribute_definitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
                {"AttributeName": "status", "AttributeType": "S"},
                {"AttributeName": "allocated_at", "AttributeType": "N"},
                {"AttributeName": "allocated_to_track", "AttributeType": "S"},
                {"AttributeName": "idempotency_key", "AttributeType": "S"},
            ],
            global_secondary_indexes=[
                _gsi(STATUS_INDEX, "status", "allocated_at"),
                _gsi(TRACK_INDEX, "allocated_to_track", "allocated_at"),
                _gsi(IDEMPOTENCY_INDEX, "idempotency_key", "allocated_at"),
            ],
            # v2: lease history items (HIST#<sandbox_id>) expire through TTL.
            ttl_attribute="ttl",
            stream_view_type="NEW_AND_OLD_IMAGES",
        ),
        TableSpec(
            name=names.replies_table,
            key_schema=_key_schema("request_id"),
            attribute_definitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
            ttl_attribute="ttl",
        ),
        # v2: tenant configs and token hashes (schemas/tenants.py has the item layout).
        TableSpec(
            name=names.tenants_table,
            key_schema=_key_schema("PK", "SK"),
            attribute_definitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
        ),
    ]


async def _ensure_queue(
    sqs: SQSClient, spec: QueueSpec, arns: dict[str, str], report: ProvisionReport
) -> None:
    wanted: dict[Any, str] = dict(spec.attributes)
    if spec.dlq is not None:
        wanted["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": arns[spec.dlq], "maxReceiveCount": spec.max_receive_count}
        )
    try:
        url = (await sqs.get_queue_url(QueueName=spec.name))["QueueUrl"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in {
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        }:
            raise
        url = (await sqs.create_queue(QueueName=spec.name, Attributes=wanted))["QueueUrl"]
        report.add(f"sqs:{spec.name}", Change.CREATED)
    else:
        current: dict[Any, str] = (
            await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        )["Attributes"]
        drift: dict[Any, str] = {
            k: v for k, v in wanted.items() if not _same_attr(k, current.get(k), v)
        }
        # FifoQueue cannot change after creation; everything else can be set in place.
        drift.pop("FifoQueue", None)
        if drift:
            await sqs.set_queue_attributes(QueueUrl=url, Attributes=drift)
            report.add(f"sqs:{spec.name}", Change.UPDATED)
        else:
            report.add(f"sqs:{spec.name}", Change.UNCHANGED)
    attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arns[spec.name] = attrs["Attributes"]["QueueArn"]


def _same_attr(key: str, current: str | None, wanted: str) -> bool:
    if current is None:
        # moto and some endpoints do not echo every attribute back; absent SSE/throughput
        # settings on an endpoint that does not report them are not drift.
        return key in {"SqsManagedSseEnabled", "DeduplicationScope", "FifoThroughputLimit"}
    if key == "RedrivePolicy":
        a, b = json.loads(current), json.loads(wanted)
        return bool(
            a.get("deadLetterTargetArn") == b["deadLetterTargetArn"]
            and int(a.get("maxReceiveCount", 0)) == b["maxReceiveCount"]
        )
    return current.lower() == wanted.lower()


async def _ensure_redrive_allow(
    sqs: SQSClient, dlq: str, sources: list[str], arns: dict[str, str], report: ProvisionReport
) -> None:
    url = (await sqs.get_queue_url(QueueName=dlq))["QueueUrl"]
    wanted = {"redrivePermission": "byQueue", "sourceQueueArns": [arns[s] for s in sources]}
    current = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))[
        "Attributes"
    ].get("RedriveAllowPolicy")
    if current is not None and json.loads(current) == wanted:
        return
    await sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"RedriveAllowPolicy": json.dumps(wanted)}
    )
    echoed = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))[
        "Attributes"
    ].get("RedriveAllowPolicy")
    if echoed is None:
        # moto accepts but never stores RedriveAllowPolicy: nothing observable changed.
        log.debug("redrive_allow_policy_not_reported", queue=dlq)
        return
    report.add(f"sqs:{dlq}:redrive-allow", Change.UPDATED)


async def _ensure_table(ddb: DynamoDBClient, spec: TableSpec, report: ProvisionReport) -> None:
    try:
        desc = (await ddb.describe_table(TableName=spec.name))["Table"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        kwargs: dict[str, Any] = {
            "TableName": spec.name,
            "KeySchema": spec.key_schema,
            "AttributeDefinitions": spec.attribute_definitions,
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"Enabled": True},
        }
        if spec.global_secondary_indexes:
            kwargs["GlobalSecondaryIndexes"] = spec.global_secondary_indexes
        if spec.stream_view_type:
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": spec.stream_view_type,
            }
        await ddb.create_table(**kwargs)
        waiter = ddb.get_waiter("table_exists")
        await waiter.wait(TableName=spec.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        report.add(f"dynamodb:{spec.name}", Change.CREATED)
    else:
        have = {g["IndexName"] for g in desc.get("GlobalSecondaryIndexes", [])}
        missing = [g for g in spec.global_secondary_indexes if g["IndexName"] not in have]
        if missing:
            updates: list[Any] = [{"Create": g} for g in missing]
            await ddb.update_table(
                TableName=spec.name,
                AttributeDefinitions=cast(Any, spec.attribute_definitions),
                GlobalSecondaryIndexUpdates=updates,
            )
            report.add(f"dynamodb:{spec.name}", Change.UPDATED)
        else:
            report.add(f"dynamodb:{spec.name}", Change.UNCHANGED)
        stream: dict[str, Any] = dict(desc.get("StreamSpecification") or {})
        if spec.stream_view_type and not (
            stream.get("StreamEnabled") and stream.get("StreamViewType") == spec.stream_view_type
        ):
            if stream.get("StreamEnabled"):  # another view type: it must be turned off first
                await ddb.update_table(
                    TableName=spec.name, StreamSpecification={"StreamEnabled": False}
                )
            await ddb.update_table(
                TableName=spec.name,
                StreamSpecification=cast(
                    Any, {"StreamEnabled": True, "StreamViewType": spec.stream_view_type}
                ),
            )
            report.add(f"dynamodb:{spec.name}:stream", Change.UPDATED)
    if spec.ttl_attribute:
        ttl = (await ddb.describe_time_to_live(TableName=spec.name))["TimeToLiveDescription"]
        enabled = ttl.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}
        if not (enabled and ttl.get("AttributeName") == spec.ttl_attribute):
            await ddb.update_time_to_live(
                TableName=spec.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
            report.add(f"dynamodb:{spec.name}:ttl", Change.UPDATED)


async def provision(
    settings: CommonSettings, *, sqs: SQSClient, ddb: DynamoDBClient
) -> ProvisionReport:
    """Make every queue and table exist as specified; report what was created or changed."""
    report = ProvisionReport()
    arns: dict[str, str] = {}
    specs = queue_specs(settings)
    for spec in specs:  # DLQs first: the sources' redrive policies need their ARNs
        await _ensure_queue(sqs, spec, arns, report)
    for dlq in {s.dlq for s in specs if s.dlq}:
        assert dlq is not None
        sources = [s.name for s in specs if s.dlq == dlq]
        await _ensure_redrive_allow(sqs, dlq, sources, arns, report)
    for table in table_specs(settings):
        await _ensure_table(ddb, table, report)
    return report
