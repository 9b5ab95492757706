"""Ctrl-C on ``up``, as a terminal sends it (SIGINT to the whole process group).

An idle stack stops within 3 s of the signal; the budget grows only with the machine's
load beyond its cores (a load of 8 on 2 cores leaves a process a quarter of a core).
A second Ctrl-C during a drain stops everything at once and says what it abandoned.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from infra.embedded.shutdown import REPEAT_SIGNAL_S
from tests.e2e.conftest import RunningStack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: What the issue asks of an idle stack, signal to exit.
IDLE_STOP_S = 3.0


def _budget() -> float:
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    return IDLE_STOP_S * max(1.0, load)


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)  # polling another process's output and state; no event to wait on


def _ctrl_c(stack: RunningStack) -> tuple[int, float]:
    """SIGINT to the stack's process group, as a terminal sends it; (exit code, seconds
    from the signal to the exit)."""
    began = time.monotonic()
    os.killpg(stack.process.pid, signal.SIGINT)
    try:
        code = stack.process.wait(timeout=60)
    finally:
        if stack.process.poll() is None:
            os.killpg(stack.process.pid, signal.SIGKILL)
    return code, time.monotonic() - began


def test_an_idle_stack_stops_within_3_s_of_ctrl_c(tmp_path) -> None:
    # GIVEN `up` as a user starts it (scheduler on, its own long-poll default), idle
    stack = start_stack(tmp_path, pool_size=3, scheduler=True, wait_time_s=None)
    budget = _budget()
    # WHEN Ctrl-C reaches the process group
    code, took = _ctrl_c(stack)
    log = stack.log.read_text()
    # THEN it said what was draining, stopped cleanly and within the budget
    assert "stopping: draining" in log
    assert "stopped in" in log
    assert code == 0, log[-2000:]
    assert took <= budget, f"idle stop took {took:.1f} s (budget {budget:.1f} s)\n{log[-2000:]}"


def test_a_second_ctrl_c_stops_at_once_and_says_what_it_abandoned(tmp_path) -> None:
    # GIVEN a stack whose consumer drains slowly (a 20 s long poll holds its stop)
    stack = start_stack(tmp_path, pool_size=3, wait_time_s="20")
    consumer = stack.info["consumer_pids"][0]
    os.killpg(stack.process.pid, signal.SIGINT)
    _wait_for(lambda: "stopping: draining" in stack.log.read_text(), 30, "the drain")
    # WHEN a second Ctrl-C comes during the drain, a distinct keypress (REPEAT_SIGNAL_S)
    time.sleep(REPEAT_SIGNAL_S + 0.1)  # the gap between two keypresses, not a wait
    code, took = _ctrl_c(stack)
    log = stack.log.read_text()
    # THEN it stopped at once (130, as an interrupted command), naming what it abandoned
    assert code == 130, log[-2000:]
    assert took <= _budget(), f"second Ctrl-C took {took:.1f} s"
    assert "abandoned" in log and "consumer" in log.split("abandoned", 1)[1]
    _wait_for(lambda: _gone(consumer), 10, "the consumer killed")
