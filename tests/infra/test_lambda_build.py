"""The read Lambda's package holds everything it imports: our code from function/, the rest
from the layer's pins (dev.py lambda; the Terraform zips what it writes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dev
from tests.infra.plan import REPO

#: Imported in a child whose sys.path starts with the built function/: every module of our
#: packages must come from there, and every distribution from the layer's requirements.
_CHILD = """
import importlib, importlib.metadata as md, json, sys
before = set(sys.modules)  # what the interpreter and site loaded, not the Lambda
sys.path.insert(0, {function!r})
import infra.read_lambda.handler
from producers.gateway.app import create_code_app  # what the first invocation builds
ours = {{"schemas", "consumers", "producers", "infra", "faststream_sqs"}}
files = sorted(
    getattr(m, "__file__", None) or ""
    for name, m in list(sys.modules.items())
    if name.split(".")[0] in ours
)
tops = {{name.split(".")[0] for name in set(sys.modules) - before}}
dists = md.packages_distributions()
used = sorted({{d for t in tops for d in dists.get(t, [])}})
print(json.dumps({{"files": files, "dists": used}}))
"""


def _pins(requirements: str) -> set[str]:
    return {
        line.split("==", 1)[0].strip().lower().replace("_", "-")
        for line in requirements.splitlines()
        if line and not line[0].isspace() and not line.startswith("#")
    }


def test_the_function_package_holds_every_module_of_ours_it_imports(tmp_path: Path) -> None:
    assert dev.build_lambda(["--code-only"], target=tmp_path) == 0
    function = tmp_path / "function"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_"))}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(function=str(function))],
        cwd=tmp_path,  # not the repository: nothing of ours on the path but function/
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["files"], "nothing of ours was imported"
    outside = [f for f in seen["files"] if not f.startswith(str(function))]
    assert outside == []
    # the layer: every distribution it imports is pinned (with hashes) in its requirements
    pins = _pins(dev.lambda_requirements((REPO / "requirements" / "runtime.txt").read_text()))
    needed = {d.lower().replace("_", "-") for d in seen["dists"]} - {
        "sandbox-broker",
        "faststream-sqs",
    }
    assert needed <= pins, needed - pins


def test_the_layer_requirements_are_the_runtime_lock_less_what_has_no_wheel() -> None:
    lock = (REPO / "requirements" / "runtime.txt").read_text()
    kept = dev.lambda_requirements(lock)
    assert _pins(lock) - _pins(kept) == set(dev.LAMBDA_SKIP)
    # every kept pin still carries its hashes (pip installs it with --require-hashes)
    blocks = kept.split(" \\\n    --hash=")
    assert len(blocks) > len(_pins(kept))
    assert "mangum==" in kept and "localstack-client==" not in kept
