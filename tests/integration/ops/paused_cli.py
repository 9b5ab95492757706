"""The operator CLI with a pause after each message a replay sends.

``python -m tests.integration.ops.paused_cli SECONDS ARGS...``: the replay-crash test's own
entry point. It runs the real operator app with ``ReplayHooks.after_send`` set (through
click's context object), so the test can SIGKILL a replay half-way deterministically;
operators have no such knob.
"""

from __future__ import annotations

import asyncio
import sys

from producers.ops.cli import app
from producers.ops.dlq import DeadLetter, ReplayHooks


def main(pause_s: float, args: list[str]) -> None:
    async def pause(_: DeadLetter) -> None:
        await asyncio.sleep(pause_s)

    app(args=args, obj=ReplayHooks(after_send=pause), prog_name="sandbox-broker-ops")


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2:])
