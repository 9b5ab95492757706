#!/usr/bin/env python3
"""Set up a local virtualenv on first use, then run the stack, the tests or a benchmark.

    python3 dev.py up [ARGS...]     # the whole stack on the embedded moto server + fake CSP
    python3 dev.py test [ARGS...]   # lint, type-check and the test suite (what CI runs)
    python3 dev.py bench [NAME]     # benchmarks in tests/bench (figures, never a gate)
    python3 dev.py sb [ARGS...]     # any other `sandbox-broker` command
    python3 dev.py lock [--upgrade] # regenerate requirements/*.txt (uv, in a throw-away venv)
    python3 dev.py lambda [--code-only]  # build the read Lambda for Terraform (see below)

Only the standard library is used here: this file is what runs before anything is installed.
The .venv is installed from the hashed lock requirements/dev.txt (dev tools, the embedded
moto and the runtime pins of requirements/runtime.txt, which the image installs alone).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
#: The SQS broker package (import name faststream_sqs), installed editable next to the app.
FASTSTREAM_SQS = ROOT / "packages" / "faststream-sqs"
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"
#: uv pip compile options shared by both locks: one lock for every platform, hashes, 3.11+.
LOCK_OPTIONS = ["--universal", "--generate-hashes", "--python-version", "3.11", "--quiet"]


#: The read Lambda's build, which infra/terraform/modules/read_lambda zips (archive_file):
#: function/ holds this repository's code, layer/python/ its dependencies. Outside the
#: source trees, so linters and type checkers never see the copies.
LAMBDA_BUILD = ROOT / "build" / "read-lambda"
#: What the read Lambda imports of this repository (tests/infra/test_lambda_build.py holds
#: this to the handler's real import closure).
LAMBDA_SOURCES = (
    "schemas",
    "consumers",
    "producers",
    "infra/__init__.py",
    "infra/logging.py",
    "infra/authorizer",
    "infra/read_lambda",
    "infra/events_lambda",
    # the SQS library's own project: copied as the top-level package it installs as
    ("packages/faststream-sqs/faststream_sqs", "faststream_sqs"),
)
#: Wheels for the Lambda runtime (python3.12, x86_64), whatever machine builds: pip picks
#: manylinux wheels and refuses sdists, so nothing is compiled here and no Docker is needed.
LAMBDA_PLATFORM = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
)

#: Runtime pins the Lambda never imports and that have no wheel (sdist only, so the
#: platform install above cannot take them): left out of its layer.
LAMBDA_SKIP = frozenset({"localstack-client"})


def lambda_requirements(lock: str) -> str:
    """The runtime lock without the LAMBDA_SKIP pins (each pin is a line plus its
    indented hash and comment lines)."""
    kept: list[str] = []
    skipping = False
    for line in lock.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            skipping = line.split("==", 1)[0].strip().lower() in LAMBDA_SKIP
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


def _wanted_stamp() -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", FASTSTREAM_SQS / "pyproject.toml", DEV_LOCK):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create .venv and install the locked dependencies, then the project (editable, no
    dependencies of its own), whenever pyproject.toml or the lock changed."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11+ is needed, this is {sys.version.split()[0]}")
    if not PY.exists():
        print("dev.py: creating .venv (first run only)", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    wanted = _wanted_stamp()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("dev.py: installing dependencies into .venv", file=sys.stderr, flush=True)
    pip = [str(PY), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "--require-hashes", "-r", str(DEV_LOCK)], check=True, cwd=ROOT)
    for project in (FASTSTREAM_SQS, ROOT):
        subprocess.run([*pip, "install", "--no-deps", "-e", str(project)], check=True, cwd=ROOT)
    STAMP.write_text(wanted)


def run(*cmd: str) -> int:
    """Run ``cmd`` and return its exit code, letting it drain on Ctrl-C or SIGTERM.

    Ctrl-C reaches the child from the terminal too; subprocess.run would then SIGKILL it
    0.25 s later, cutting the stack's drain short. Here the child gets the signal (again,
    harmlessly) and is waited for.
    """
    proc = subprocess.Popen(cmd, cwd=ROOT)

    def forward(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            forward(signal.SIGINT, None)


def test(args: list[str]) -> int:
    """Lint, format check, mypy, then pytest; a run that executes no test fails (exit 5)."""
    sqs = (FASTSTREAM_SQS / "faststream_sqs").relative_to(ROOT)
    packages = ["schemas", str(sqs), "consumers", "producers", "infra"]
    steps: list[tuple[str, list[str]]] = [
        ("ruff check", [str(BIN / "ruff"), "check", "."]),
        ("ruff format", [str(BIN / "ruff"), "format", "--check", "."]),
        ("mypy", [str(BIN / "mypy"), *packages]),
    ]
    if not args:  # a focused `dev.py test tests/unit/x.py` skips the slow whole-tree checks
        for name, cmd in steps:
            print(f"dev.py: {name}", file=sys.stderr, flush=True)
            if (rc := run(*cmd)) != 0:
                print(f"dev.py: {name} failed (exit {rc})", file=sys.stderr)
                return rc
    rc = run(str(PY), "-m", "pytest", *(args or ["-m", "not bench"]))
    if rc == 5:
        print("dev.py: pytest collected no test: failing on purpose", file=sys.stderr)
        return 1
    return rc


def lock(args: list[str]) -> int:
    """Regenerate both locks from pyproject.toml with uv, installed into a temporary venv
    (uv is a tool for this command only, never a requirement of the others). Existing pins
    are kept unless ``--upgrade`` is given; the dev lock is constrained by the runtime one,
    so the packages they share have the same versions."""
    with tempfile.TemporaryDirectory(prefix="sandbox-broker-lock-") as tmp:
        venv.EnvBuilder(with_pip=True).create(tmp)
        tool_bin = Path(tmp) / ("Scripts" if os.name == "nt" else "bin")
        pip = [str(tool_bin / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", "uv"], check=True)
        uv = [str(tool_bin / "uv"), "pip", "compile", "pyproject.toml", *LOCK_OPTIONS, *args]
        uv += ["--custom-compile-command", "python3 dev.py lock"]
        env = {**os.environ, "UV_NO_CONFIG": "1"}
        steps = [
            [*uv, "-o", str(RUNTIME_LOCK.relative_to(ROOT))],
            [
                *uv,
                "--extra",
                "dev",
                "--extra",
                "embedded",
                "-c",
                str(RUNTIME_LOCK.relative_to(ROOT)),
                "-o",
                str(DEV_LOCK.relative_to(ROOT)),
            ],
        ]
        for step in steps:
            if (rc := subprocess.run(step, cwd=ROOT, env=env).returncode) != 0:
                return rc
    print("dev.py: wrote requirements/runtime.txt and requirements/dev.txt", file=sys.stderr)
    return 0


def build_lambda(args: list[str], *, target: Path = LAMBDA_BUILD) -> int:
    """Build the read Lambda into ``target``: function/ (our packages, copied) and
    layer/python/ (the runtime lock, hashed, as manylinux wheels for python3.12 x86_64).
    ``--code-only`` skips the layer (a code change needs no new dependencies)."""
    function = target / "function"
    shutil.rmtree(function, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for source in LAMBDA_SOURCES:
        from_, to = source if isinstance(source, tuple) else (source, source)
        src, dest = ROOT / from_, function / to
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest, ignore=ignore)
        else:
            shutil.copy2(src, dest)
    print(f"dev.py: wrote {function}", file=sys.stderr)
    if "--code-only" in args:
        return 0
    layer = target / "layer" / "python"
    shutil.rmtree(layer.parent, ignore_errors=True)
    pip = [str(PY), "-m", "pip", "--disable-pip-version-check", "-q", "install"]
    pip += [*LAMBDA_PLATFORM, "--require-hashes", "--no-deps", "--no-compile"]
    requirements = target / "requirements.txt"
    requirements.write_text(lambda_requirements(RUNTIME_LOCK.read_text()))
    pip += ["--target", str(layer), "-r", str(requirements)]
    if (rc := subprocess.run(pip, cwd=ROOT).returncode) != 0:
        return rc
    print(f"dev.py: wrote {layer}", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "lock":
        return lock(rest)
    ensure_venv()
    if command == "up":
        return run(str(BIN / "sandbox-broker"), "up", *rest)
    if command == "test":
        return test(rest)
    if command == "bench":
        return run(str(PY), "-m", "tests.bench", *rest)
    if command == "sb":
        return run(str(BIN / "sandbox-broker"), *rest)
    if command == "lambda":
        return build_lambda(rest)
    print(f"dev.py: unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
