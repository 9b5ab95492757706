"""What every benchmark here shares: its header, its output folder, a load run, a figure line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from producers.loadgen import LoadOptions, LoadResult, run_load
from producers.loadgen.cli import result_json
from producers.loadgen.plot import write_plot
from tests.bench.stack import BenchStack, load_average


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0],
        epilog=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=None, help="folder for JSON results and plots")
    p.add_argument("--rounds", type=int, default=1, help="repeat the whole measurement")
    return p


def out_dir(name: str, given: Path | None) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = given or Path(os.environ.get("TMPDIR", "/tmp")) / "sandbox-broker-bench" / stamp
    path = folder / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def header(name: str) -> dict[str, Any]:
    """Print and return when, where and how loaded the machine was at the start."""
    info = {
        "benchmark": name,
        "command": "python -m tests.bench " + shlex.join(sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "load_average_start": load_average(),
    }
    print(f"# {name}  {info['date']}  load {info['load_average_start']}  ({info['machine']})")
    return info


def gateway_load(stack: BenchStack, **kwargs: Any) -> LoadOptions:
    return LoadOptions(
        gateway_url=stack.url,
        token=stack.info["track_token"],
        aws_endpoint_url=stack.moto,
        name_prefix=stack.info["name_prefix"],
        **kwargs,
    )


def queue_load(stack: BenchStack, **kwargs: Any) -> LoadOptions:
    return LoadOptions(
        target="queue",
        aws_endpoint_url=stack.moto,
        name_prefix=stack.info["name_prefix"],
        **kwargs,
    )


def run(
    options: LoadOptions, folder: Path, label: str, *, stack: BenchStack | None = None
) -> LoadResult:
    """One load run; its JSON and plot land in ``folder`` under ``label``.

    With ``stack``, the run stops as soon as the stack or one of its consumers dies.
    """
    started = time.monotonic()
    watchdog = (lambda _: stack.check_alive()) if stack is not None else None
    result = asyncio.run(run_load(options, on_progress=watchdog))
    (folder / f"{label}.json").write_text(result_json(result))
    try:
        write_plot(folder / f"{label}.png", result.records, result.summary)
    except RuntimeError:  # no matplotlib here: the self-contained page instead
        write_plot(folder / f"{label}.html", result.records, result.summary)
    s = result.summary
    lat = s.latency.get("allocate")
    print(
        f"  {label}: {s.requests} requests in {s.wall_s:.2f} s "
        f"({s.throughput_per_s}/s answered) outcomes={s.outcomes} doubles={len(s.doubles)} "
        f"without_reply={s.without_reply}"
        + (
            f" | e2e p50 {lat.p50_ms} p95 {lat.p95_ms} p99 {lat.p99_ms} max {lat.max_ms} ms"
            if lat and lat.count
            else ""
        )
        + f"  [{time.monotonic() - started:.0f} s, load {load_average()}]"
    )
    return result


def save(folder: Path, figures: dict[str, Any]) -> None:
    figures["load_average_end"] = load_average()
    path = folder / "figures.json"
    path.write_text(json.dumps(figures, indent=2, default=str))
    print(f"  figures: {path}")


def ratio(a: float | None, b: float | None) -> float | None:
    if not a or not b:
        return None
    return round(a / b, 2)
