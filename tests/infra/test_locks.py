"""Dependencies (issue 13, item 5): the hashed locks drive the image and CI, and the
runtime lock carries exactly the runtime dependencies — no moto, Flask, docker SDK or
cfn-lint (the ``embedded`` extra), no test tool (the ``dev`` extra)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(lock: str) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (REPO / lock).read_text(), flags=re.M)
    return {name.lower().replace("_", "-"): version for name, version in found}


def test_the_runtime_lock_pins_every_runtime_dependency_and_no_extra() -> None:
    runtime = _pins("requirements/runtime.txt")
    wanted = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert wanted <= set(runtime), wanted - set(runtime)
    extras = PYPROJECT["project"]["optional-dependencies"]
    for extra in ("embedded", "dev"):
        direct = {_name(r) for r in extras[extra]}
        assert not direct & set(runtime), (extra, direct & set(runtime))
    assert not {"moto", "flask", "werkzeug", "docker", "cfn-lint"} & set(runtime)


def test_the_dev_lock_carries_the_extras_schemathesis_included() -> None:
    dev = _pins("requirements/dev.txt")
    extras = PYPROJECT["project"]["optional-dependencies"]
    wanted = {_name(r) for extra in ("embedded", "dev") for r in extras[extra]}
    wanted.discard("types-aiobotocore")  # its stubs are pinned as types-aiobotocore-<service>
    assert wanted <= set(dev), wanted - set(dev)
    assert "schemathesis" in dev


def _calls_in(function: str) -> list[list[str]]:
    """The string arguments of each subprocess.run call in one function of dev.py."""
    tree = ast.parse((REPO / "dev.py").read_text())
    [node] = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function]
    calls = []
    for call in ast.walk(node):
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "subprocess.run":
            calls.append([ast.unparse(a) for a in ast.walk(call.args[0]) if a is not call.args[0]])
    return calls


def test_ci_installs_only_from_the_hashed_dev_lock() -> None:
    """CI runs .ci/run -> `python3 dev.py test`, whose venv comes from the dev lock with
    --require-hashes and then the project without resolving anything."""
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^exec python3 dev\.py test$", ci, flags=re.M)
    installs = [" ".join(c) for c in _calls_in("ensure_venv") if "'install'" in c]
    assert len(installs) == 3, installs
    upgrade_pip, locked, project = installs
    assert "'--upgrade'" in upgrade_pip and "'pip'" in upgrade_pip
    assert "'--require-hashes'" in locked and "str(DEV_LOCK)" in locked
    assert "'--no-deps'" in project
