"""Nothing on the consumer, gateway or authorizer import path needs moto (or its server's
Flask, docker SDK and cfn-lint): they are the ``embedded`` extra, never in the image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Every production entry module: the processes the image runs and what they import.
ENTRY_MODULES = (
    "consumers.app",
    "infra.consumer",
    "producers.gateway.server",
    "producers.scheduler",
    "producers.cli",
    "producers.ops.cli",
    "producers.track_client",
    "infra.authorizer.handler",
    "infra.read_lambda.handler",
    "infra.cli",
    "infra.provision",
    "infra.fake_csp",
)
#: moto and what its server extras bring; made unimportable in the child.
BLOCKED = ("moto", "flask", "werkzeug", "docker", "cfnlint")

_BLOCK = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # `import name` now fails as if it were not installed
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_"))}
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_production_entry_module_imports_without_moto() -> None:
    result = _python(
        "import importlib, json\n"
        f"for name in {ENTRY_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {BLOCKED!r}"
        " and sys.modules[m] is not None)\n"
        "print(json.dumps(loaded))\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_up_without_moto_says_in_one_line_how_to_install_it() -> None:
    result = _python("sys.argv = ['sandbox-broker', 'up']\nfrom infra.cli import main\nmain()\n")
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "pip install 'sandbox-broker[embedded]'" in lines[0]
    assert "Traceback" not in result.stderr


def test_only_the_read_lambda_imports_mangum() -> None:
    """Mangum is the Lambda's adapter: no process of the image loads it."""
    others = tuple(m for m in ENTRY_MODULES if not m.startswith("infra.read_lambda"))
    result = _python(
        "import importlib\n"
        f"for name in {others!r}:\n"
        "    importlib.import_module(name)\n"
        "print('mangum' in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == "False"
