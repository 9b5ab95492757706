"""The repository's Terraform, evaluated the way ``terraform plan`` would for given inputs."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from tests.infra.hcl import Evaluator, Instance, Module, load_module

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "infra" / "terraform"
APIGW_DIR = REPO / "infra" / "apigw"

#: Variables without a default: what a user must put in terraform.tfvars.
REQUIRED_INPUTS: dict[str, Any] = {
    "image": "111122223333.dkr.ecr.eu-central-1.amazonaws.com/sandbox-broker:1.0.0",
    "csp_base_url": "https://csp.example.com/api",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
}


@functools.cache
def root_module() -> Module:
    return load_module(TERRAFORM_DIR)


_PLANS: dict[str, Evaluator] = {}


def plan(**overrides: Any) -> Evaluator:
    """The root module evaluated with the required inputs plus ``overrides`` (cached)."""
    inputs = {**REQUIRED_INPUTS, **overrides}
    key = json.dumps(inputs, sort_keys=True)
    if key not in _PLANS:
        _PLANS[key] = Evaluator(root_module(), inputs)
    return _PLANS[key]


def instances(ev: Evaluator, rtype: str, *, kind: str = "resource") -> list[Instance]:
    """Every instance of a resource type anywhere in the configuration."""
    return ev.all_instances(rtype, kind=kind)


def one(ev: Evaluator, rtype: str, name: str) -> Instance:
    found = [i for i in instances(ev, rtype) if i.name == name]
    assert len(found) == 1, f"expected one {rtype}.{name}, found {[i.address for i in found]}"
    return found[0]


def by_key(ev: Evaluator, rtype: str, name: str) -> dict[str, Instance]:
    """The instances of a for_each resource by key."""
    found = {
        i.scope["each"]["key"]: i
        for i in instances(ev, rtype)
        if i.name == name and "each" in i.scope
    }
    assert found, f"no for_each instances of {rtype}.{name}"
    return found
