"""checkov passes on infra/terraform, and every skipped check says why in the code.

checkov's dependencies conflict with the project's, so it lives in its own virtualenv at
.venv-checkov (git-ignored), created here on first use: about half a minute on a warm pip
cache, a few minutes on a cold one. Later runs reuse it; a scan takes under 10 s.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from tests.infra.plan import REPO, TERRAFORM_DIR

CHECKOV_VERSION = "3.3.30"
VENV = REPO / ".venv-checkov"
CHECKOV = VENV / "bin" / "checkov"
SKIP = re.compile(r"#\s*checkov:skip=([^\s:]+)(?::(.*))?")


def _installed_version() -> str | None:
    if not CHECKOV.exists():
        return None
    done = subprocess.run(
        [str(CHECKOV), "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_checkov() -> None:
    """Create .venv-checkov with the pinned checkov unless it is already there."""
    if _installed_version() == CHECKOV_VERSION:
        return
    shutil.rmtree(VENV, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    pip = subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", f"checkov=={CHECKOV_VERSION}"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if pip.returncode != 0:
        shutil.rmtree(VENV, ignore_errors=True)
        pytest.fail(f"could not install checkov=={CHECKOV_VERSION}:\n{pip.stderr[-4000:]}")
    print(f"installed checkov {CHECKOV_VERSION} in {time.monotonic() - started:.0f} s")


@pytest.mark.timeout(1800)
def test_checkov_passes_on_the_terraform() -> None:
    ensure_checkov()
    # --skip-download: no call to Prisma Cloud for guidelines (offline and deterministic).
    # Only the frameworks that apply to .tf files: the others find nothing, slowly.
    done = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(TERRAFORM_DIR),
            "--quiet",
            "--compact",
            "-o",
            "json",
            "--skip-download",
            "--framework",
            "terraform",
            "secrets",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=REPO,
    )
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        (f["check_id"], f["resource"], f["file_path"], f["check_name"])
        for report in reports
        for f in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == [], "\n".join(map(str, failed))
    assert done.returncode == 0, done.stderr[-2000:]
    by_type = {r["check_type"]: r["summary"] for r in reports}
    assert set(by_type) == {"terraform", "secrets"}
    assert by_type["terraform"]["parsing_errors"] == 0
    assert by_type["terraform"]["passed"] > 150  # it really scanned the modules


def test_every_skipped_check_carries_a_reason_in_the_code() -> None:
    skips = []
    for path in sorted(TERRAFORM_DIR.rglob("*.tf")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = SKIP.search(line)
            if match:
                where = f"{path.relative_to(TERRAFORM_DIR)}:{number}"
                check, reason = match.group(1), (match.group(2) or "").strip()
                assert re.fullmatch(r"CKV2?_[A-Z]+_\d+", check), (where, check)
                assert len(reason) >= 20, f"{where}: {check} is skipped without a reason"
                skips.append(check)
    assert skips, "expected the documented skips (see infra/terraform/README.md)"
