"""For tests that run our commands as child processes: a free port to give one, and the
operator CLI at a real terminal (a pty), which its confirmation prompts need."""

from __future__ import annotations

import os
import pty
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A port free right now on loopback (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def at_a_terminal(args: list[str], env: dict[str, str], answer: bytes) -> tuple[int, str]:
    """Run the CLI on a pty, answer its question, return (exit code, everything it printed)."""
    primary, secondary = pty.openpty()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "producers.ops.cli", *args],
        cwd=ROOT,
        env={**base, **env, "COLUMNS": "200"},
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    seen = b""
    try:
        while b"[y/N]" not in seen:
            chunk = os.read(primary, 1024)
            assert chunk, seen
            seen += chunk
        os.write(primary, answer)
        code = proc.wait(timeout=60)
        while True:
            try:
                chunk = os.read(primary, 1024)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
    finally:
        proc.kill()
        os.close(primary)
    text = re.sub(r"\x1b\[[0-9;]*m", "", seen.decode(errors="replace"))  # rich's colours
    return code, " ".join(text.split())
