"""Replay killed half-way (SIGKILL) then run again: nothing lost (issue 6, proof 3)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.factories import allocate_message, wait_until
from tests.integration.ops.conftest import Stack, cli_process, spawn_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_replay_killed_half_way_then_rerun_loses_nothing(stack: Stack) -> None:
    # GIVEN 12 dead letters in three groups
    sent = []
    for _ in range(4):
        for group in ("k1", "k2", "k3"):
            msg = allocate_message(group)
            sent.append(msg)
            await stack.dead_letter(msg, group=group, reason="poison")
    dlq_name, source = stack.names.requests_dlq, stack.names.requests_queue
    await stack.wait_depth(dlq_name, 12)

    # WHEN a replay (slowed by a pause after each send, the hook of the test's own entry
    # point) is SIGKILLed once a few messages reached the source queue
    args = ["dlq", "replay", "--queue", "requests", "--yes", "--json", "--visibility-timeout", "2"]
    proc = await spawn_cli(["0.4", *args], stack.env, module="tests.integration.ops.paused_cli")
    try:

        async def some_arrived() -> bool:
            return (await stack.depth(source))[0] >= 5

        # 5: the first group (4 messages) was sent and deleted, the next one is under way
        await wait_until(some_arrived, timeout=30, what="the first replayed messages")
    finally:
        proc.kill()
        await proc.wait()
    assert proc.returncode == -9
    visible, held = await stack.depth(dlq_name)
    assert 0 < visible + held < 12, "killed half-way: some replayed, some still dead-lettered"

    # ... and run again once the killed run's hold on its batch has lapsed
    async def released() -> bool:
        return (await stack.depth(dlq_name))[1] == 0

    await wait_until(released, timeout=15, what="the killed replay's batch to reappear")
    again = await cli_process(
        ["dlq", "replay", "--queue", "requests", "--yes", "--json"], stack.env
    )

    # THEN the DLQ is empty and every message reached the source at least once
    assert again.exit_code == 0, again.stderr
    await stack.wait_depth(dlq_name, 0)
    arrived = Counter(json.loads(m["Body"])["request_id"] for m in await stack.drain(source))
    assert set(arrived) == {m.request_id for m in sent}, "none lost"
    assert sum(arrived.values()) >= 12
