"""The run itself, against an in-memory target: pacing, polling, releases, timeouts."""

from __future__ import annotations

import pytest

from producers.loadgen import LoadOptions, run_load
from producers.loadgen.report import NO_REPLY, SUCCEEDED
from tests.unit.loadgen.fakes import FakeTarget

FAST = {
    "gateway_url": "http://127.0.0.1:1",
    "token": "t",
    "poll_first_s": 0.001,
    "poll_max_s": 0.004,
}


async def test_a_burst_against_a_smaller_pool_gives_each_sandbox_once() -> None:
    target = FakeTarget(pool=15, polls_until_answer=3)
    result = await run_load(LoadOptions(burst=True, requests=20, **FAST), target=target)
    s = result.summary
    assert s.outcomes == {SUCCEEDED: 15, "NO_SANDBOXES_AVAILABLE": 5}
    assert s.distinct_sandboxes == 15
    assert s.doubles == []
    assert s.without_reply == 0
    assert all(r.polls == 3 for r in result.records)
    assert target.calls == {"submit": 20, "read": 60}
    assert s.client_calls.per_request == {"read": 3.0, "submit": 1.0}


async def test_closed_loop_with_release_gives_every_sandbox_back() -> None:
    target = FakeTarget(pool=2)
    result = await run_load(
        LoadOptions(concurrency=2, requests=10, release=True, **FAST), target=target
    )
    actions = [r.action for r in result.records]
    assert actions.count("allocate") == actions.count("release") == 10
    assert all(r.outcome == SUCCEEDED for r in result.records)
    assert target.held == {}
    assert result.summary.doubles == []  # sandboxes are reused, but only after a release


async def test_open_loop_starts_requests_on_schedule_in_order() -> None:
    target = FakeTarget(pool=5)
    result = await run_load(LoadOptions(rate=200, requests=5, **FAST), target=target)
    starts = [r.started for r in sorted(result.records, key=lambda r: r.index)]
    assert starts == sorted(starts)
    assert starts[-1] >= 4 / 200  # the fifth is not sent before its slot


async def test_open_loop_stops_at_the_duration() -> None:
    target = FakeTarget(pool=100)
    result = await run_load(
        LoadOptions(rate=100, requests=100, duration_s=0.05, **FAST), target=target
    )
    assert len(result.records) == 5  # slots 0, 10, 20, 30 and 40 ms fall inside 50 ms


async def test_a_request_never_answered_ends_as_no_reply_at_its_timeout() -> None:
    target = FakeTarget(pool=3, silent={1})
    result = await run_load(
        LoadOptions(burst=True, requests=3, timeout_s=0.05, **FAST), target=target
    )
    outcomes = {r.index: r.outcome for r in result.records}
    assert outcomes == {0: SUCCEEDED, 1: NO_REPLY, 2: SUCCEEDED}
    assert result.summary.without_reply == 1
    assert not result.summary.ok


async def test_progress_is_reported_until_the_end() -> None:
    seen = []
    await run_load(
        LoadOptions(burst=True, requests=4, **FAST),
        target=FakeTarget(pool=4),
        on_progress=lambda p: seen.append((p.started, p.answered)),
    )
    assert seen[-1] == (4, 4)


@pytest.mark.parametrize("tracks", [1, 2])
async def test_reused_tracks_get_their_own_sandbox_again(tracks: int) -> None:
    target = FakeTarget(pool=10)
    result = await run_load(
        LoadOptions(concurrency=1, requests=6, tracks=tracks, **FAST), target=target
    )
    assert result.summary.distinct_sandboxes == tracks
    assert sum(r.idempotent for r in result.records) == 6 - tracks


async def test_a_progress_callback_that_raises_stops_the_run() -> None:
    """A harness whose stack died stops the run instead of waiting out every timeout."""

    def watchdog(progress) -> None:
        if progress.started:
            raise RuntimeError("the stack died")

    target = FakeTarget(pool=5, silent=set(range(100)))
    with pytest.raises(RuntimeError, match="load run stopped: the stack died"):
        await run_load(
            LoadOptions(rate=50, requests=100, timeout_s=600, duration_s=600, **FAST),
            target=target,
            on_progress=watchdog,
        )
    assert target.calls["submit"] < 100
