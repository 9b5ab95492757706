"""Ctrl-C on ``up``: say at once what drains, report each part as it stops; twice: stop now.

The first SIGINT/SIGTERM starts the drain (the stack's own order: gateway, scheduler,
consumers, then the fake CSP and moto) and prints what is draining before anything
else happens. A second one stops at once: the children are killed and the process
exits 130, after one line naming what was abandoned. A repeat within
``REPEAT_SIGNAL_S`` is the same keypress, not a second one (``dev.py`` passes the
terminal's SIGINT on to the stack, which got it from the terminal already).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from rich.console import Console

if TYPE_CHECKING:
    from infra.embedded.moto_process import MotoProcess
    from infra.embedded.server import QuietSignalServer

#: Two signals closer than this are one Ctrl-C seen twice (terminal + dev.py's forward).
REPEAT_SIGNAL_S: Final = 0.5
#: What a killed stack exits with (128 + SIGINT, as a shell reports an interrupted command).
ABANDONED_EXIT: Final = 130


class Shutdown:
    """The stack's stop, as the person at the terminal sees it."""

    def __init__(
        self,
        console: Console,
        *,
        draining: Callable[[], str],
        abandon: Callable[[], str],
        exit_now: Callable[[int], None] = os._exit,
    ) -> None:
        self._console = console
        self._draining = draining
        self._abandon = abandon
        self._exit_now = exit_now
        self.started_at: float | None = None

    @property
    def stopping(self) -> bool:
        return self.started_at is not None

    def signal(self) -> bool:
        """One SIGINT/SIGTERM; True when it started the drain (the caller then stops)."""
        now = time.monotonic()
        if self.started_at is None:
            self.started_at = now
            self._console.print(
                f"[yellow]stopping:[/] draining {self._draining()}; Ctrl-C again to stop at once"
            )
            return True
        if now - self.started_at >= REPEAT_SIGNAL_S:
            abandoned = self._abandon()
            self._console.print(f"[red]stopped at once;[/] abandoned {abandoned}")
            self._exit_now(ABANDONED_EXIT)
        return False

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        """Print ``what`` once it has stopped, with how long it took."""
        began = time.monotonic()
        yield
        if self.stopping:
            self._console.print(f"  {what} ({time.monotonic() - began:.1f} s)")

    def done(self) -> None:
        took = "" if self.started_at is None else f" in {time.monotonic() - self.started_at:.1f} s"
        self._console.print(f"[green]stopped[/]{took}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def draining(
    *,
    gateway: QuietSignalServer | None,
    scheduler: bool,
    consumers: Sequence[subprocess.Popen[bytes]],
    drain_s: float,
    others: Sequence[str],
) -> str:
    """What the first Ctrl-C drains, in the order it stops."""
    if gateway is None:
        parts = ["start-up (it stops once the current step ends)"]
    else:
        parts = [
            f"the gateway ({_plural(len(gateway.server_state.connections), 'connection')} open)"
        ]
    if scheduler:
        parts.append("the scheduler")
    running = [str(c.pid) for c in consumers if c.poll() is None]
    if running:
        parts.append(
            f"consumer{'s' * (len(running) != 1)} {', '.join(running)} (each finishes the "
            f"messages it holds, {drain_s:.0f} s at most)"
        )
    return ", then ".join([*parts, *others])


def abandon(
    *,
    gateway: QuietSignalServer | None,
    consumers: Sequence[subprocess.Popen[bytes]],
    moto: MotoProcess | None,
) -> str:
    """Kill what still runs (a second Ctrl-C); say what that abandoned."""
    lost = []
    running = [c for c in consumers if c.poll() is None]
    for child in running:
        child.kill()
    if running:
        lost.append(
            f"{_plural(len(running), 'consumer')} mid-drain (what they held reappears on its "
            "queue after the visibility timeout)"
        )
    if gateway is not None and (in_flight := len(gateway.server_state.tasks)):
        lost.append(f"{_plural(in_flight, 'gateway request')} in flight")
    if moto is not None:
        moto.kill()
        lost.append("the embedded moto (its queues and tables are gone)")
    return "; ".join(lost) or "nothing (everything had stopped)"
