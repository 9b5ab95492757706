"""How the command-line tools end: one set of exit codes for scripts, one error line.

0  done (a track request: its reply is not failed)
1  the operation failed: a failed reply, AWS refused it, a send failed, not found
2  usage or refused: a bad option or environment value, refused input or credentials,
   a destructive command without --yes
3  unreachable or timed out: the endpoint did not answer, no reply in time, rate limited
   or the gateway failed (try again later)
"""

from __future__ import annotations

from enum import IntEnum
from typing import NoReturn

import typer


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNREACHABLE = 3


def one_line(text: object, limit: int = 300) -> str:
    """``text`` on one line of at most ``limit`` characters (an error must not scroll)."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def fail(message: str, code: ExitCode) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit with ``code``."""
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(int(code))
