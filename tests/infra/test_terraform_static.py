"""Every .tf parses, every reference resolves, and the code holds no account id or secret."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest

from tests.infra.hcl import Evaluator, HCLError, Instance, load_file, load_module, unresolved
from tests.infra.plan import APIGW_DIR, TERRAFORM_DIR, plan, root_module

TF_FILES = sorted(TERRAFORM_DIR.rglob("*.tf"))
MODULE_DIRS = sorted({p.parent for p in TF_FILES})


def test_there_is_one_module_per_resource_group() -> None:
    modules = {p.name for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir()}
    assert modules == {
        "sqs",
        "dynamodb",
        "api_gateway",
        "authorizer",
        "scheduler",
        "ecs",
        "iam",
        "cloudwatch",
        "secrets",
        "read_lambda",
        "waf",
        "events",
    }
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (TERRAFORM_DIR / name).is_file(), name


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM_DIR)))
def test_every_tf_file_parses(path: Path) -> None:
    assert load_file(path) is not None


def test_every_reference_resolves_to_a_declaration() -> None:
    """var./local./module./data./resource references, module arguments and output reads."""
    assert unresolved(root_module()) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))


def test_resolver_reports_every_kind_of_broken_reference(tmp_path: Path) -> None:
    # GIVEN a configuration with one broken reference of each kind
    _write(
        tmp_path,
        {
            "main.tf": """
                variable "declared" {
                  type = string
                }
                locals {
                  ok     = var.declared
                  broken = var.undeclared
                }
                resource "aws_sqs_queue" "q" {
                  name   = local.missing_local
                  policy = aws_sqs_queue.nope.arn
                  tags   = { region = data.aws_region.nope.name }
                }
                module "child" {
                  source     = "./child"
                  not_a_var  = 1
                }
                module "ghost" {
                  source = "./does-not-exist"
                }
                output "a" {
                  value = module.child.no_such_output
                }
                output "b" {
                  value = module.undeclared.x
                }
            """,
            "child/main.tf": """
                variable "required" {
                  type = string
                }
                output "real" {
                  value = var.required
                }
            """,
        },
    )
    # WHEN the resolver runs
    problems = "\n".join(unresolved(load_module(tmp_path)))
    # THEN each one is reported
    for expected in (
        "undeclared variable: var.undeclared",
        "undeclared local: local.missing_local",
        "undeclared resource: aws_sqs_queue.nope",
        "undeclared data source: data.aws_region.nope",
        "module output not declared: module.child.no_such_output",
        "undeclared module: module.undeclared",
        "argument 'not_a_var' is not a variable",
        "required variable 'required' not passed",
        "does-not-exist",
    ):
        assert expected in problems, problems


def test_resolver_reports_an_undeclared_variable_inside_a_child_module(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": 'module "c" {\n  source = "./c"\n}\n',
            "c/main.tf": 'output "x" {\n  value = var.typo\n}\n',
        },
    )
    assert any("var.typo" in p for p in unresolved(load_module(tmp_path)))


def test_resolver_accepts_names_terraform_binds_itself(tmp_path: Path) -> None:
    """for-expression variables, dynamic-block iterators, each / count / path / self."""
    _write(
        tmp_path,
        {
            "main.tf": """
                variable "m" {
                  type    = map(string)
                  default = {}
                }
                locals {
                  pairs = [for k, v in var.m : "${k}=${v}" if v != ""]
                  upper = { for k, v in var.m : k => upper(v) }
                }
                resource "aws_sqs_queue" "q" {
                  for_each = var.m
                  name     = "${each.key}-${each.value}"
                  tags     = { file = "${path.module}/x" }
                }
                data "aws_iam_policy_document" "p" {
                  dynamic "statement" {
                    for_each = aws_sqs_queue.q
                    content {
                      actions   = ["sqs:SendMessage"]
                      resources = [statement.value.arn]
                    }
                  }
                }
            """,
        },
    )
    assert unresolved(load_module(tmp_path)) == []


def test_plan_time_rule_count_and_for_each_keys_must_be_known(tmp_path: Path) -> None:
    """As in Terraform: an ARN known only after apply cannot decide count or for_each keys."""
    _write(
        tmp_path,
        {
            "main.tf": """
                resource "aws_iam_role" "r" {
                  name = "r"
                }
                resource "aws_sqs_queue" "by_count" {
                  count = aws_iam_role.r.arn == "" ? 0 : 1
                  name  = "q"
                }
                resource "aws_sqs_queue" "by_keys" {
                  for_each = toset([aws_iam_role.r.arn])
                  name     = "q"
                }
                resource "aws_sqs_queue" "known_keys" {
                  for_each = { a = aws_iam_role.r.arn }
                  name     = each.value
                }
            """,
        },
    )
    ev = Evaluator(load_module(tmp_path))
    with pytest.raises(HCLError, match="comparison with unknown value"):
        ev.resource("aws_sqs_queue", "by_count")
    with pytest.raises(HCLError, match="for_each keys are known only after apply"):
        ev.resource("aws_sqs_queue", "by_keys")
    # Unknown values under known keys are fine, and are known again after apply.
    known = ev.resource("aws_sqs_queue", "known_keys")
    assert known["a"].get("name") == "arn:aws:iam::123456789012:role/r"


def test_every_variable_and_output_is_typed_and_described() -> None:
    for directory in MODULE_DIRS:
        module = load_module(directory)
        for name, body in module.variables.items():
            assert "type" in body, f"{directory.name}: variable {name} has no type"
            assert body.get("description"), f"{directory.name}: variable {name} has no description"
        for name, body in module.outputs.items():
            assert body.get("description"), f"{directory.name}: output {name} has no description"


def test_the_whole_plan_evaluates() -> None:
    """Every resource, data source and output of every module evaluates without error."""
    ev = plan()

    def walk(e) -> int:  # type: ignore[no-untyped-def]
        count = 0
        for kind, table in (("resource", e.module.resources), ("data", e.module.data)):
            for rtype, name in table:
                res = e.resource(rtype, name, kind=kind)
                found = list(res.values()) if isinstance(res, dict) else res
                for inst in found if isinstance(found, list) else [found]:
                    assert isinstance(inst, Instance)
                    inst.config()
                    count += 1
        for output in e.module.outputs:
            e.output(output)
        for child in e.module.modules:
            count += walk(e.child(child))
        return count

    assert walk(ev) > 80


CODE_FILES = sorted(
    [*TERRAFORM_DIR.rglob("*.tf"), *TERRAFORM_DIR.rglob("*.tftpl"), *APIGW_DIR.glob("*.vtl")]
)


@pytest.mark.parametrize("path", CODE_FILES, ids=lambda p: p.name)
def test_no_account_ids_arns_or_secret_values_in_code(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"(?<![\d.])\d{12}(?!\d)", text), "a 12-digit account id"
    assert not re.search(r"arn:aws[\w-]*:[^:\s\"]*:[^:\s\"]*:\d+:", text), "an ARN with an account"
    assert not re.search(r"\b[0-9a-f]{32,}\b", text), "a long hex string (a token?)"
    assert "secret_string" not in text, "a secret value in Terraform"
    assert "aws_secretsmanager_secret_version" not in text, "a secret value in Terraform state"


def test_tokens_are_never_terraform_inputs() -> None:
    """Only ARNs of secrets are variables; no variable could carry a token's value."""
    for name in root_module().variables:
        if "token" in name:
            assert name.endswith("_secret_arn") or name.endswith("_ttl_s"), name


def test_the_signing_secret_is_created_empty_unless_given() -> None:
    """v2: without token_signing_secret_arn Terraform creates the secret (no value: put
    one out of band, as for the tokens) and hands it to the authorizer and the read Lambda."""
    from tests.infra.plan import by_key, one

    def wiring(ev: Evaluator) -> tuple[str, str]:
        auth = one(ev.child("authorizer"), "aws_lambda_function", "authorizer").config()
        read = one(ev.child("read_lambda"), "aws_lambda_function", "read").config()
        return (
            auth["environment"][0]["variables"]["SIGNING_SECRET_ARN"],
            read["environment"][0]["variables"]["BROKER_TOKEN_SIGNING_SECRET_ARN"],
        )

    created = plan()
    secrets = by_key(created.child("secrets"), "aws_secretsmanager_secret", "token")
    signing = secrets["signing"]
    assert signing.config()["name"] == "sandbox-broker/token-signing-secret"
    assert signing.config()["recovery_window_in_days"] == 7
    assert wiring(created) == (signing.get("arn"), signing.get("arn"))

    given = "arn:aws:secretsmanager:eu-central-1:111122223333:secret:own/signing-AbCdEf"
    ev = plan(token_signing_secret_arn=given)
    assert "signing" not in by_key(ev.child("secrets"), "aws_secretsmanager_secret", "token")
    assert wiring(ev) == (given, given)
