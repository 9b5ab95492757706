"""IAM least privilege: each role may call exactly the actions it uses, on exactly its resources."""

from __future__ import annotations

import json

import pytest

from schemas.events import HISTORY_PK_PREFIX
from schemas.pool import ACTIVE_PK_PREFIX, SANDBOX_PK_PREFIX
from tests.infra.hcl import Evaluator
from tests.infra.plan import REQUIRED_INPUTS, by_key, instances, one, plan


def arns(ev: Evaluator) -> dict[str, str]:
    a = ev.account
    sqs = f"arn:aws:sqs:{a.region}:{a.account_id}"
    ddb = f"arn:aws:dynamodb:{a.region}:{a.account_id}:table"
    secret = f"arn:aws:secretsmanager:{a.region}:{a.account_id}:secret"
    logs = f"arn:aws:logs:{a.region}:{a.account_id}:log-group"
    return {
        "requests": f"{sqs}:sandbox-requests.fifo",
        "requests_dlq": f"{sqs}:sandbox-requests-dlq.fifo",
        "jobs": f"{sqs}:sandbox-jobs.fifo",
        "jobs_dlq": f"{sqs}:sandbox-jobs-dlq.fifo",
        "pool": f"{ddb}/sandbox-pool",
        "replies": f"{ddb}/sandbox-replies",
        "tenants": f"{ddb}/sandbox-tenants",
        "track_secret": f"{secret}:sandbox-broker/track-token-AbCdEf",
        "admin_secret": f"{secret}:sandbox-broker/admin-token-AbCdEf",
        "csp_secret": f"{secret}:sandbox-broker/csp-token-AbCdEf",
        "signing_secret": f"{secret}:sandbox-broker/token-signing-secret-AbCdEf",
        "consumer_logs": f"{logs}:/ecs/sandbox-broker/consumer:*",
        "authorizer_logs": f"{logs}:/aws/lambda/sandbox-broker-authorizer:*",
        "read_lambda_logs": f"{logs}:/aws/lambda/sandbox-broker-read:*",
        "ecr_repo": "arn:aws:ecr:eu-central-1:111122223333:repository/sandbox-broker",
    }


def permissions(ev: Evaluator) -> dict[str, set[tuple[str, str, str]]]:
    """Role name -> {(effect, action, resource)} granted by its inline policies."""
    iam = ev.child("iam")
    roles = {r.get("id"): r.get("name") for r in iam.instances("aws_iam_role")}
    granted: dict[str, set[tuple[str, str, str]]] = {}
    for policy in iam.instances("aws_iam_role_policy"):
        document = json.loads(policy.get("policy"))
        role = roles[policy.get("role")]
        for st in document["Statement"]:
            for action in st["Action"]:
                for resource in st["Resource"]:
                    granted.setdefault(role, set()).add((st["Effect"], action, resource))
    return granted


def grants(actions: list[str], resources: list[str]) -> set[tuple[str, str, str]]:
    return {("Allow", a, r) for a in actions for r in resources}


def test_each_role_may_do_exactly_what_it_uses() -> None:
    ev = plan()
    a = arns(ev)
    sources, dlqs = [a["requests"], a["jobs"]], [a["requests_dlq"], a["jobs_dlq"]]
    # On the DLQs everything but DeleteMessage: the sweep reads dead letters without
    # consuming them and the `dlq` reject policy sends to them; nothing deletes there.
    on_dlqs = [
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    ]
    expected = {
        "sandbox-broker-consumer-task": grants([*on_dlqs, "sqs:DeleteMessage"], sources)
        | grants(on_dlqs, dlqs)
        | grants(
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:Query",
                "dynamodb:DescribeTable",
            ],
            [a["pool"], a["pool"] + "/index/*", a["replies"]],
        )
        # v2: tenant configs (quota, prefixes), read-only.
        | grants(["dynamodb:GetItem"], [a["tenants"]]),
        "sandbox-broker-consumer-execution": grants(
            ["logs:CreateLogStream", "logs:PutLogEvents"], [a["consumer_logs"]]
        )
        | grants(["secretsmanager:GetSecretValue"], [a["csp_secret"]])
        | grants(
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            [a["ecr_repo"]],
        )
        | grants(["ecr:GetAuthorizationToken"], ["*"]),
        "sandbox-broker-api-integrations": grants(["sqs:SendMessage"], [a["requests"], a["jobs"]])
        | grants(["dynamodb:GetItem"], [a["replies"]]),
        "sandbox-broker-scheduler": grants(["sqs:SendMessage"], [a["jobs"]]),
        "sandbox-broker-authorizer": grants(
            ["secretsmanager:GetSecretValue"], [a["track_secret"], a["admin_secret"]]
        )
        | grants(["dynamodb:GetItem"], [a["tenants"]])  # v2: token hashes, tenant configs
        | grants(["secretsmanager:GetSecretValue"], [a["signing_secret"]])  # v2: created here
        | grants(["logs:CreateLogStream", "logs:PutLogEvents"], [a["authorizer_logs"]]),
        # The code routes: GetItem and Query on the pool (on the partitions they read only,
        # tested below), StatusIndex Queries, the two tokens and the tenants.
        "sandbox-broker-read-lambda": grants(["dynamodb:GetItem", "dynamodb:Query"], [a["pool"]])
        | grants(["dynamodb:Query"], [a["pool"] + "/index/StatusIndex"])
        | grants(["secretsmanager:GetSecretValue"], [a["track_secret"], a["admin_secret"]])
        | grants(["dynamodb:GetItem", "dynamodb:Query"], [a["tenants"]])
        | grants(["secretsmanager:GetSecretValue"], [a["signing_secret"]])  # mint, verify
        | grants(["logs:CreateLogStream", "logs:PutLogEvents"], [a["read_lambda_logs"]]),
    }
    assert permissions(ev) == expected


def test_the_read_lambda_reads_the_pool_table_only_on_the_partitions_its_routes_read() -> None:
    # A sandbox (GetItem SBX#<id>), the stats' lease counts (Query ACTIVE#<tenant>), a
    # sandbox's history (Query HIST#<id>). Every statement on the table carries the
    # condition: one without it would grant the whole table and make the condition moot.
    ev = plan()
    iam = ev.child("iam")
    policy = next(p for p in iam.instances("aws_iam_role_policy") if p.name == "read_lambda")
    on_table = [
        st
        for st in json.loads(policy.get("policy"))["Statement"]
        if arns(ev)["pool"] in st["Resource"]
    ]
    prefixes = sorted(f"{p}*" for p in (SANDBOX_PK_PREFIX, ACTIVE_PK_PREFIX, HISTORY_PK_PREFIX))
    assert on_table
    for st in on_table:
        assert st.get("Condition") == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": prefixes}
        }


def test_no_wildcard_action_and_no_wildcard_resource_but_ecr_login() -> None:
    for role, granted in permissions(plan()).items():
        for _, action, resource in granted:
            assert "*" not in action, (role, action)
            if resource == "*":
                assert action == "ecr:GetAuthorizationToken", (role, action)
            assert not action.startswith("iam:"), (role, action)
            assert action.split(":")[1] != "Scan", (role, action)


def test_an_image_outside_ecr_needs_no_ecr_permission() -> None:
    ev = plan(image="ghcr.io/example/sandbox-broker:1.0.0")
    execution = permissions(ev)["sandbox-broker-consumer-execution"]
    assert not [g for g in execution if g[1].startswith("ecr:")]


def test_every_service_role_trusts_its_service_in_this_account_only() -> None:
    iam = plan().child("iam")
    expected = {
        "sandbox-broker-consumer-task": "ecs-tasks.amazonaws.com",
        "sandbox-broker-consumer-execution": "ecs-tasks.amazonaws.com",
        "sandbox-broker-api-integrations": "apigateway.amazonaws.com",
        "sandbox-broker-apigw-cloudwatch": "apigateway.amazonaws.com",
        "sandbox-broker-scheduler": "scheduler.amazonaws.com",
        "sandbox-broker-authorizer": "lambda.amazonaws.com",
        "sandbox-broker-read-lambda": "lambda.amazonaws.com",
    }
    for role in iam.instances("aws_iam_role"):
        trust = json.loads(role.get("assume_role_policy"))["Statement"]
        assert len(trust) == 1
        assert trust[0]["Action"] == ["sts:AssumeRole"]
        assert trust[0]["Principal"] == {"Service": [expected[role.get("name")]]}
        if expected[role.get("name")] != "lambda.amazonaws.com":
            assert trust[0]["Condition"] == {
                "StringEquals": {"aws:SourceAccount": [iam.account.account_id]}
            }


def test_the_only_managed_policy_is_api_gateways_account_logging_role() -> None:
    ev = plan()
    attachments = instances(ev, "aws_iam_role_policy_attachment")
    assert [a.get("policy_arn") for a in attachments] == [
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    ]
    assert not instances(plan(manage_apigw_account_role=False), "aws_iam_role_policy_attachment")


def test_each_principal_uses_its_own_role() -> None:
    ev = plan()
    iam = ev.child("iam")
    role = {r.name: r.get("arn") for r in iam.instances("aws_iam_role")}
    task = one(ev.child("ecs"), "aws_ecs_task_definition", "consumer").config()
    assert task["task_role_arn"] == role["consumer_task"]
    assert task["execution_role_arn"] == role["consumer_execution"]
    assert task["task_role_arn"] != task["execution_role_arn"]
    api = ev.child("api_gateway")
    integrations = [
        *by_key(api, "aws_api_gateway_integration", "enqueue").values(),
        one(api, "aws_api_gateway_integration", "get_reply"),
    ]
    assert {i.get("credentials") for i in integrations} == {role["api_gateway"]}
    assert (
        one(ev.child("authorizer"), "aws_lambda_function", "authorizer").get("role")
        == (role["authorizer"])
    )
    assert (
        one(ev.child("read_lambda"), "aws_lambda_function", "read").get("role")
        == (role["read_lambda"])
    )


@pytest.mark.parametrize("prefix", ["", "qa-"])
def test_policies_name_the_prefixed_resources(prefix: str) -> None:
    granted = permissions(plan(name_prefix=prefix))
    resources = {r for rows in granted.values() for _, _, r in rows}
    for resource in resources - {"*"}:
        if ":sqs:" in resource or ":dynamodb:" in resource:
            name = resource.rsplit(":", 1)[1].removeprefix("table/")
            assert name.startswith(f"{prefix}sandbox-"), resource
    assert REQUIRED_INPUTS["image"].startswith("111122223333.dkr.ecr.")
