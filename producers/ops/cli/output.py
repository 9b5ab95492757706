"""What the operator commands print: rich tables on a terminal, JSON with ``--json``."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")]


def print_json(data: Any) -> None:
    """One JSON document on stdout (``--json`` output owns stdout)."""
    sys.stdout.write(json.dumps(data, default=str) + "\n")


def age(seconds: float | None) -> str:
    """A duration as an operator reads it: 42s, 3m05s, 2h10m, 1d04h."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"


def reflowed(fn: F) -> F:
    """Join the hard-wrapped lines of each docstring paragraph (typer's rich help keeps
    single line breaks, which renders ragged); indented paragraphs (examples) stay as is."""
    paragraphs = inspect.cleandoc(fn.__doc__ or "").split("\n\n")
    fn.__doc__ = "\n\n".join(
        p if p.startswith("  ") else " ".join(line.strip() for line in p.splitlines())
        for p in paragraphs
    )
    return fn
