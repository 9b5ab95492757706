"""The correctness half of the load scenarios (issue 8: 2, 4 and 5), small enough for CI.

Counts only: who got which sandbox, who was refused, what reached the DLQ, what was never
answered. No assertion on time: the benchmarks in tests/bench measure that.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from producers.loadgen import LoadOptions, Progress, run_load
from schemas.names import REQUESTS_DLQ
from tests.bench.stack import BenchStack, running_stack, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: Generous per-request bound: a killed consumer's messages return after the visibility
#: timeout, and CI machines are shared.
TIMEOUT_S = 240.0


def gateway_options(stack: BenchStack, **kwargs) -> LoadOptions:
    return LoadOptions(
        gateway_url=stack.url,
        token=stack.info["track_token"],
        aws_endpoint_url=stack.moto,
        timeout_s=TIMEOUT_S,
        **kwargs,
    )


@pytest.fixture
def burst_stack(tmp_path) -> Iterator[BenchStack]:
    with running_stack(tmp_path, pool_size=32, consumers=2) as stack:
        yield stack


async def test_burst_against_a_smaller_pool_hands_each_sandbox_out_once(burst_stack) -> None:
    """Scenario 2: 40 tracks at once vs 32 sandboxes → 32 distinct, 8 refused, 0 lost."""
    result = await run_load(gateway_options(burst_stack, burst=True, requests=40))
    s = result.summary
    assert s.doubles == []
    assert s.without_reply == 0
    assert s.distinct_sandboxes == 32
    assert s.outcomes == {"succeeded": 32, "NO_SANDBOXES_AVAILABLE": 8}
    assert burst_stack.stats()["allocated"] == 32


class Monkey:
    """Kills the extra consumer when the run reaches given answer counts, and restarts it.

    Driven by the load generator's progress (a condition), not by a clock.
    """

    def __init__(self, stack: BenchStack, at_answers: list[int]) -> None:
        self.stack = stack
        self.pending = sorted(at_answers)
        self.kills = 0
        self._busy = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        if self.pending and progress.answered >= self.pending[0] and self._busy.acquire(False):
            self.pending.pop(0)
            threading.Thread(target=self._kill_and_restart).start()

    def _kill_and_restart(self) -> None:
        try:
            self.stack.extra[-1].kill()
            self.kills += 1
            self.stack.add_consumer("chaos")
        finally:
            self._busy.release()


async def test_chaos_loses_nothing_and_doubles_nothing(tmp_path) -> None:
    """Scenario 4: a consumer SIGKILLed mid-burst (twice) and restarted, CSP failing 30%
    while a sync runs, 10% of DynamoDB calls throttled: every request answered, no double,
    and the counts still add up."""
    env = {"BROKER_VISIBILITY_TIMEOUT_S": "5"}
    with running_stack(tmp_path, pool_size=32, consumers=1, env=env) as stack:
        stack.add_consumer("chaos")
        wait_for(
            lambda: len(stack.consumer_urls) == 2 and _ready(stack.extra[-1].url),
            timeout=60,
            what="the extra consumer",
        )
        stack.set_csp_faults(error_rate=0.3)
        stack.set_throttle(0.1)
        httpx.post(
            stack.url + "/v1/admin/sync", headers=stack.admin_headers, timeout=30
        ).raise_for_status()
        monkey = Monkey(stack, at_answers=[4, 16])
        try:
            result = await run_load(
                gateway_options(stack, burst=True, requests=40), on_progress=monkey
            )
        finally:
            stack.set_throttle(0)
            stack.set_csp_faults()
        allocated = stack.stats()["allocated"]
    s = result.summary
    assert monkey.kills >= 1
    assert s.doubles == []
    assert s.without_reply == 0
    assert s.distinct_sandboxes == 32
    assert s.outcomes == {"succeeded": 32, "NO_SANDBOXES_AVAILABLE": 8}
    assert allocated == 32


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def test_poison_in_a_burst_goes_to_the_dlq_and_no_group_stalls(tmp_path) -> None:
    """Scenario 5: malformed messages ahead of good ones in their groups, straight on the
    queue: each poison one reaches the DLQ, those with a request_id are answered
    INVALID_REQUEST, and every good request — its group-mates too — succeeds."""
    with running_stack(tmp_path, pool_size=50, consumers=2) as stack:
        options = LoadOptions(
            target="queue",
            aws_endpoint_url=stack.moto,
            burst=True,
            requests=40,
            poison_rate=0.1,
            timeout_s=TIMEOUT_S,
        )
        result = await run_load(options)
        s = result.summary
        wait_for(
            lambda: stack.queue_depth(REQUESTS_DLQ) >= s.poison,
            timeout=60,
            what="every poison message in the DLQ",
        )
        dlq = stack.queue_depth(REQUESTS_DLQ)
    assert s.poison == 4
    assert dlq == 4
    # two of the three kinds carry a request_id and are answered; the not-JSON one cannot be
    assert s.outcomes == {"succeeded": 40, "INVALID_REQUEST": 3, "UNANSWERABLE": 1}
    assert s.doubles == []
    assert s.without_reply == 0
    poisoned = {r.track_id for r in result.records if r.kind == "poison"}
    good = {r.track_id: r.outcome for r in result.records if r.kind == "good"}
    assert all(good[t] == "succeeded" for t in poisoned)
