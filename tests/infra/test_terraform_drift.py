"""Terraform creates what `sandbox-broker infra provision` creates locally (no drift).

Queue and table names, queue attributes, redrive and redrive-allow policies, key schemas,
GSIs, billing, SSE and TTL are compared with infra.provision.queue_specs / table_specs, and
(on a real moto server) with what provisioning actually created.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.provision import queue_specs, table_specs
from schemas.names import ResourceNames
from schemas.settings import CommonSettings
from tests.infra.hcl import Evaluator, Instance
from tests.infra.plan import instances, plan

PREFIXES = ["", "staging-"]

#: aws_sqs_queue argument -> SQS attribute name (as CreateQueue takes it)
SQS_ATTRIBUTES = {
    "fifo_queue": "FifoQueue",
    "content_based_deduplication": "ContentBasedDeduplication",
    "deduplication_scope": "DeduplicationScope",
    "fifo_throughput_limit": "FifoThroughputLimit",
    "visibility_timeout_seconds": "VisibilityTimeout",
    "message_retention_seconds": "MessageRetentionPeriod",
    "receive_wait_time_seconds": "ReceiveMessageWaitTimeSeconds",
    "sqs_managed_sse_enabled": "SqsManagedSseEnabled",
}


def _sqs_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def queues_by_name(ev: Evaluator) -> dict[str, Instance]:
    return {q.get("name"): q for q in instances(ev, "aws_sqs_queue")}


def tables_by_name(ev: Evaluator) -> dict[str, Instance]:
    return {t.get("name"): t for t in instances(ev, "aws_dynamodb_table")}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_names_are_resource_names_with_the_prefix(prefix: str) -> None:
    ev = plan(name_prefix=prefix)
    expected = ResourceNames.with_prefix(prefix)
    assert ev.local("names") == expected.model_dump()
    assert set(queues_by_name(ev)) == {
        expected.requests_queue,
        expected.requests_dlq,
        expected.jobs_queue,
        expected.jobs_dlq,
        # v2, AWS only: the stream Lambda's failed batches (locally the reader retries)
        f"{prefix}sandbox-broker-events-dlq",
    }
    assert set(tables_by_name(ev)) == {
        expected.pool_table,
        expected.replies_table,
        expected.tenants_table,
    }


@pytest.mark.parametrize("prefix", PREFIXES)
def test_queue_attributes_equal_local_provisioning(prefix: str) -> None:
    ev = plan(name_prefix=prefix)
    queues = queues_by_name(ev)
    for spec in queue_specs(CommonSettings(name_prefix=prefix)):
        config = queues[spec.name].config()
        attributes = {
            sqs: _sqs_value(config[tf]) for tf, sqs in SQS_ATTRIBUTES.items() if tf in config
        }
        assert attributes == spec.attributes, spec.name


@pytest.mark.parametrize("prefix", PREFIXES)
def test_redrive_sends_each_source_queue_to_its_own_dlq_after_max_receives(prefix: str) -> None:
    ev = plan(name_prefix=prefix)
    queues = queues_by_name(ev)
    for spec in queue_specs(CommonSettings(name_prefix=prefix)):
        queue = queues[spec.name]
        if spec.dlq is None:
            assert "redrive_policy" not in queue.config(), f"{spec.name} is a DLQ"
            continue
        policy = json.loads(queue.get("redrive_policy"))
        assert policy == {
            "deadLetterTargetArn": queues[spec.dlq].get("arn"),
            "maxReceiveCount": spec.max_receive_count,
        }
        assert policy["maxReceiveCount"] == 5


@pytest.mark.parametrize("prefix", PREFIXES)
def test_each_dlq_accepts_redrive_only_from_its_source_queue(prefix: str) -> None:
    ev = plan(name_prefix=prefix)
    queues = queues_by_name(ev)
    url_to_name = {q.get("url"): name for name, q in queues.items()}
    allows = {
        url_to_name[p.get("queue_url")]: json.loads(p.get("redrive_allow_policy"))
        for p in instances(ev, "aws_sqs_queue_redrive_allow_policy")
    }
    specs = queue_specs(CommonSettings(name_prefix=prefix))
    expected = {
        dlq: {
            "redrivePermission": "byQueue",
            "sourceQueueArns": sorted(queues[s.name].get("arn") for s in specs if s.dlq == dlq),
        }
        for dlq in {s.dlq for s in specs if s.dlq}
    }
    assert {
        k: {**v, "sourceQueueArns": sorted(v["sourceQueueArns"])} for k, v in allows.items()
    } == (expected)


def _key_schema(config: dict[str, Any]) -> list[dict[str, str]]:
    schema = [{"AttributeName": config["hash_key"], "KeyType": "HASH"}]
    if config.get("range_key"):
        schema.append({"AttributeName": config["range_key"], "KeyType": "RANGE"})
    return schema


@pytest.mark.parametrize("prefix", PREFIXES)
def test_tables_equal_local_provisioning(prefix: str) -> None:
    ev = plan(name_prefix=prefix)
    tables = tables_by_name(ev)
    for spec in table_specs(CommonSettings(name_prefix=prefix)):
        config = tables[spec.name].config()
        assert _key_schema(config) == spec.key_schema, spec.name
        attributes = [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in config["attribute"]
        ]
        assert sorted(attributes, key=str) == sorted(spec.attribute_definitions, key=str)
        gsis = [
            {
                "IndexName": g["name"],
                "KeySchema": _key_schema(g),
                "Projection": {"ProjectionType": g["projection_type"]},
            }
            for g in config.get("global_secondary_index", [])
        ]
        assert sorted(gsis, key=str) == sorted(spec.global_secondary_indexes, key=str)
        ttl = [t["attribute_name"] for t in config.get("ttl", []) if t["enabled"]]
        assert ttl == ([spec.ttl_attribute] if spec.ttl_attribute else [])
        stream = (config.get("stream_view_type") if config.get("stream_enabled") else None) or None
        assert stream == spec.stream_view_type, spec.name
        # What infra.provision's create_table passes for every table:
        assert config["billing_mode"] == "PAY_PER_REQUEST"
        assert config["server_side_encryption"] == [{"enabled": True}]
        # Beyond local provisioning (moto has no backups to speak of): PITR on AWS.
        assert config["point_in_time_recovery"] == [{"enabled": True}]


def test_pool_gsis_are_the_contract_indexes() -> None:
    pool = tables_by_name(plan())["sandbox-pool"].config()
    assert {
        g["name"]: (g["hash_key"], g["range_key"], g["projection_type"])
        for g in pool["global_secondary_index"]
    } == {
        "StatusIndex": ("status", "allocated_at", "ALL"),
        "TrackIndex": ("allocated_to_track", "allocated_at", "ALL"),
        "IdempotencyIndex": ("idempotency_key", "allocated_at", "ALL"),
    }


@pytest.mark.integration
async def test_terraform_matches_what_provision_created_on_moto(
    provisioned: CommonSettings, sqs: Any, ddb: Any
) -> None:
    """The same comparison against a real moto server after `infra provision` ran."""
    ev = plan(name_prefix=provisioned.name_prefix)
    queues = queues_by_name(ev)
    for spec in queue_specs(provisioned):
        url = (await sqs.get_queue_url(QueueName=spec.name))["QueueUrl"]
        created = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))[
            "Attributes"
        ]
        config = queues[spec.name].config()
        for tf, name in SQS_ATTRIBUTES.items():
            if name in created:  # moto does not echo every attribute back
                assert created[name].lower() == _sqs_value(config[tf]).lower(), (spec.name, name)
        if spec.dlq:
            redrive = json.loads(created["RedrivePolicy"])
            assert redrive["deadLetterTargetArn"].endswith(":" + spec.dlq)
            assert (
                int(redrive["maxReceiveCount"])
                == json.loads(config["redrive_policy"])["maxReceiveCount"]
            )
    tables = tables_by_name(ev)
    for spec in table_specs(provisioned):
        created = (await ddb.describe_table(TableName=spec.name))["Table"]
        config = tables[spec.name].config()
        assert created["KeySchema"] == _key_schema(config)
        assert created["BillingModeSummary"]["BillingMode"] == config["billing_mode"]
        assert created["SSEDescription"]["Status"] == "ENABLED"
        assert {g["IndexName"] for g in created.get("GlobalSecondaryIndexes", [])} == {
            g["name"] for g in config.get("global_secondary_index", [])
        }
        stream = created.get("StreamSpecification") or {}
        assert (stream.get("StreamViewType") if stream.get("StreamEnabled") else None) == (
            config.get("stream_view_type") if config.get("stream_enabled") else None
        ), spec.name
        ttl = (await ddb.describe_time_to_live(TableName=spec.name))["TimeToLiveDescription"]
        if spec.ttl_attribute:
            assert ttl["AttributeName"] == config["ttl"][0]["attribute_name"]
