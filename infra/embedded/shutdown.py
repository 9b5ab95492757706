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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

from rich.console import Console

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
