"""`infra provision` creates what CONTRACT.md names and is idempotent."""

from __future__ import annotations

import json

import pytest

from infra.provision import Change, provision
from schemas.settings import CommonSettings

pytestmark = pytest.mark.integration


async def test_provision_creates_contract_resources_and_second_run_changes_nothing(
    provisioned: CommonSettings, sqs, ddb
) -> None:
    names = provisioned.names
    url = (await sqs.get_queue_url(QueueName=names.requests_queue))["QueueUrl"]
    attrs = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["VisibilityTimeout"] == str(provisioned.visibility_timeout_s)
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"].endswith(names.requests_dlq)

    pool = (await ddb.describe_table(TableName=names.pool_table))["Table"]
    assert {g["IndexName"] for g in pool["GlobalSecondaryIndexes"]} == {
        "StatusIndex",
        "TrackIndex",
        "IdempotencyIndex",
    }
    ttl = (await ddb.describe_time_to_live(TableName=names.replies_table))["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "ttl"

    again = await provision(provisioned, sqs=sqs, ddb=ddb)
    assert not again.changed, again.changes
    assert all(change is Change.UNCHANGED for _, change in again.changes)
