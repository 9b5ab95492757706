"""How a smoke run is shown: a table (rich) or one JSON document, and a one-line verdict."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from producers.smoke.model import Outcome, SmokeReport

STYLE = {Outcome.OK: "green", Outcome.FAILED: "bold red", Outcome.SKIPPED: "yellow"}


def print_table(report: SmokeReport, console: Console | None = None) -> None:
    # A pipe or a CI log gets the full routes rather than an 80-column squeeze.
    console = console or Console(width=None if sys.stdout.isatty() else 140)
    table = Table("check", "route", "result", "detail", title=f"smoke {report.url}")
    for r in report.results:
        table.add_row(r.check, r.route, f"[{STYLE[r.outcome]}]{r.outcome.value}[/]", r.detail)
    console.print(table)
    console.print(verdict(report))


def print_json(report: SmokeReport) -> None:
    sys.stdout.write(json.dumps(report.as_json()) + "\n")


def verdict(report: SmokeReport) -> str:
    counts = {o: sum(1 for r in report.results if r.outcome is o) for o in Outcome}
    line = (
        f"{counts[Outcome.OK]} ok, {counts[Outcome.FAILED]} failed, "
        f"{counts[Outcome.SKIPPED]} skipped in {report.elapsed_s:.1f} s"
    )
    if report.deviations:
        named = ", ".join(f"{r.check} ({r.route})" for r in report.deviations)
        line += f"; deviating: {named}"
    return line
