"""Child processes of the embedded stack that cannot outlive it.

A stack killed with SIGKILL runs no shutdown code; without this its consumer processes
would go on polling a moto server that no longer exists. On Linux the kernel sends the
child SIGTERM when its parent dies (PR_SET_PDEATHSIG), so the child drains and exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

_PR_SET_PDEATHSIG = 1
# Loaded here, in the parent: between fork and exec only async-signal-safe work is allowed
# (find_library would even spawn a process).
_LIBC = (
    ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if sys.platform.startswith("linux")
    else None
)


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def preexec_die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for subprocess.Popen that ties the child to this process (Linux)."""
    return _die_with_parent if sys.platform.startswith("linux") else None


def spawn(cmd: Sequence[str], *, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``cmd`` so that it gets SIGTERM if this process dies first (Linux)."""
    return subprocess.Popen(  # noqa: S603 - our own CLI, same interpreter
        list(cmd), env=env, preexec_fn=preexec_die_with_parent()
    )
