"""FIFO group rules, for any batches: split by group, in order, one at a time, skip on failure."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from faststream_sqs.grouping import GroupScheduler, split_by_group


@dataclass(frozen=True)
class Msg:
    group: str
    seq: int
    fails: bool = False


@st.composite
def streams(draw: st.DrawFn) -> list[list[Msg]]:
    """Batches of messages from a few groups, each group's seq rising across batches."""
    groups = draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=40))
    failing = draw(st.sets(st.integers(0, len(groups) - 1), max_size=4))
    counters: Counter[str] = Counter()
    messages = []
    for i, group in enumerate(groups):
        messages.append(Msg(group, counters[group], fails=i in failing))
        counters[group] += 1
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(messages) - 1)), max_size=5)))
    bounds = [0, *cuts, len(messages)]
    return [messages[a:b] for a, b in itertools.pairwise(bounds) if messages[a:b]]


@given(batch=st.lists(st.tuples(st.sampled_from("xyz"), st.integers(0, 100)), max_size=30))
def test_split_keeps_every_message_once_and_each_group_in_batch_order(
    batch: list[tuple[str, int]],
) -> None:
    groups = split_by_group(batch, key=lambda m: m[0])
    assert sorted(m for ms in groups.values() for m in ms) == sorted(batch)
    for key, items in groups.items():
        assert items == [m for m in batch if m[0] == key]
    assert list(groups) == list(dict.fromkeys(m[0] for m in batch))


@dataclass
class Run:
    max_workers: int
    handled: list[Msg] = field(default_factory=list)
    released: list[Msg] = field(default_factory=list)
    finished: list[Msg] = field(default_factory=list)
    running: Counter[str] = field(default_factory=Counter)
    overlaps: int = 0
    peak: int = 0

    async def handle(self, message: Msg) -> bool:
        self.running[message.group] += 1
        total = sum(self.running.values())
        self.peak = max(self.peak, total)
        if self.running[message.group] > 1:
            self.overlaps += 1
        for _ in range(random.randint(0, 3)):
            await asyncio.sleep(0)
        self.running[message.group] -= 1
        self.handled.append(message)
        return not message.fails

    async def release(self, messages: list[Msg]) -> None:
        await asyncio.sleep(0)
        self.released.extend(messages)


async def run(stream: list[list[Msg]], max_workers: int, *, all_at_once: bool) -> Run:
    outcome = Run(max_workers)
    scheduler = GroupScheduler[Msg](
        max_workers=max_workers,
        key=lambda m: m.group,
        handle=outcome.handle,
        release=outcome.release,
        finished=outcome.finished.extend,
    )
    for batch in stream:
        scheduler.submit(batch)
        if not all_at_once:
            for _ in range(random.randint(0, 4)):
                await asyncio.sleep(0)
    assert await scheduler.wait_idle(5)
    return outcome


@settings(max_examples=150, deadline=None)
@given(stream=streams(), max_workers=st.integers(1, 4))
async def test_all_batches_at_once_each_group_runs_in_order_until_its_first_failure(
    stream: list[list[Msg]], max_workers: int
) -> None:
    outcome = await run(stream, max_workers, all_at_once=True)

    messages = [m for batch in stream for m in batch]
    by_group: dict[str, list[Msg]] = defaultdict(list)
    for m in messages:
        by_group[m.group].append(m)
    for group, items in by_group.items():
        first_failure = next((i for i, m in enumerate(items) if m.fails), len(items))
        assert [m for m in outcome.handled if m.group == group] == items[: first_failure + 1]
        assert [m for m in outcome.released if m.group == group] == items[first_failure + 1 :]
    assert outcome.overlaps == 0
    assert outcome.peak <= max_workers
    assert Counter(outcome.finished) == Counter(messages)


@settings(max_examples=150, deadline=None)
@given(stream=streams(), max_workers=st.integers(1, 4))
async def test_batches_arriving_while_groups_run_never_break_order_or_overlap(
    stream: list[list[Msg]], max_workers: int
) -> None:
    outcome = await run(stream, max_workers, all_at_once=False)

    messages = [m for batch in stream for m in batch]
    # every message left exactly once: handled or released, never both
    assert Counter(outcome.handled) + Counter(outcome.released) == Counter(messages)
    assert Counter(outcome.finished) == Counter(messages)
    for group in {m.group for m in messages}:
        seqs = [m.seq for m in outcome.handled if m.group == group]
        assert seqs == sorted(seqs)
        # nothing after a failure was handled while the failed one was pending: every
        # handled message after a failure is one that arrived after the release
        failed = [m.seq for m in outcome.handled if m.group == group and m.fails]
        if failed:
            released = {m.seq for m in outcome.released if m.group == group}
            assert all(seq not in released for seq in seqs)
    assert outcome.overlaps == 0
    assert outcome.peak <= max_workers


async def test_close_hands_back_what_has_not_started_and_cancel_what_runs() -> None:
    gate = asyncio.Event()
    started: list[Msg] = []

    async def handle(message: Msg) -> bool:
        started.append(message)
        await gate.wait()
        return True

    async def release(messages: list[Msg]) -> None:
        raise AssertionError("close() hands messages back; it releases nothing itself")

    scheduler = GroupScheduler[Msg](
        max_workers=2, key=lambda m: m.group, handle=handle, release=release
    )
    batch = [Msg("a", 0), Msg("a", 1), Msg("b", 0), Msg("c", 0)]
    scheduler.submit(batch)
    while len(started) < 2:
        await asyncio.sleep(0)

    unstarted = scheduler.close()
    assert sorted(unstarted, key=repr) == [Msg("a", 1), Msg("c", 0)]
    assert not await scheduler.wait_idle(0.01)
    interrupted = await scheduler.cancel()
    assert sorted(interrupted, key=repr) == [Msg("a", 0), Msg("b", 0)]
    assert await scheduler.wait_idle(0.01)


async def test_what_joins_a_group_while_its_failing_message_runs_is_handled_not_released() -> None:
    # GIVEN a failing message with one group-mate behind it in its batch; while it runs
    # (after its release, so SQS hands the group out again) it is received once more
    released: list[Msg] = []
    handled: list[Msg] = []
    scheduler: GroupScheduler[Msg]
    first, mate, again = Msg("g", 0, fails=True), Msg("g", 1), Msg("g", 0)

    async def handle(message: Msg) -> bool:
        handled.append(message)
        if message is first:
            scheduler.submit([again])
        return not message.fails

    async def release(messages: list[Msg]) -> None:
        released.extend(messages)

    scheduler = GroupScheduler[Msg](
        max_workers=1, key=lambda m: m.group, handle=handle, release=release
    )
    # WHEN the group has been worked through
    scheduler.submit([first, mate])
    assert await scheduler.wait_idle(5)

    # THEN only the mate held behind it was released; the new receive of it was handled
    # (releasing it unhandled would burn one of its receives towards the DLQ)
    assert released == [mate]
    assert handled == [first, again]
