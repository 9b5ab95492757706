"""Outgoing entries: ids per entry, checks before sending, packing into SendMessageBatch calls."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faststream_sqs.publisher.batch import (
    OutgoingEntry,
    SQSDeduplicationError,
    SQSMessageGroupError,
    SQSPublishError,
    check_before_sending,
    check_deduplication,
    entry_ids,
    pack,
    too_large,
)
from faststream_sqs.queue import QueueInfo


def entry(index: int, body: str = "x", **attributes: str) -> OutgoingEntry:
    return OutgoingEntry(index=index, body=body, attributes=attributes)


@given(
    sizes=st.lists(st.integers(1, 600), max_size=60),
    max_bytes=st.integers(600, 3000),
)
def test_pack_keeps_order_and_never_exceeds_ten_entries_or_the_size_limit(
    sizes: list[int], max_bytes: int
) -> None:
    entries = [entry(i, "b" * size) for i, size in enumerate(sizes)]
    calls = pack(entries, max_bytes=max_bytes)
    assert [e.index for call in calls for e in call] == list(range(len(sizes)))
    for call in calls:
        assert 1 <= len(call) <= 10
        assert sum(e.size for e in call) <= max_bytes
    # greedy: a call is cut only when the next entry would not fit
    for call, following in itertools.pairwise(calls):
        assert len(call) == 10 or sum(e.size for e in call) + following[0].size > max_bytes


def test_size_counts_body_and_attribute_names_types_and_values() -> None:
    assert entry(0, "héllo", type="allocate").size == len("héllo".encode()) + 4 + 6 + 8
    assert too_large(entry(0, "a" * 20), 10) is not None
    assert too_large(entry(0, "a" * 10), 10) is None


def test_entry_ids_from_one_id_a_callable_or_a_list() -> None:
    bodies = [{"t": "a"}, {"t": "b"}]
    assert entry_ids(None, bodies, what="id") == [None, None]
    assert entry_ids("g", bodies, what="id") == ["g", "g"]
    assert entry_ids(lambda body: body["t"], bodies, what="id") == ["a", "b"]
    assert entry_ids(["x", "y"], bodies, what="id") == ["x", "y"]
    with pytest.raises(SQSPublishError, match="1 ids for 2 entries"):
        entry_ids(["x"], bodies, what="id")


def test_fifo_entries_need_group_ids_and_at_most_ten_attributes() -> None:
    with_group = OutgoingEntry(index=0, body="x", attributes={}, message_group_id="g")
    check_before_sending("q.fifo", [with_group])
    check_before_sending("q", [entry(0)])
    with pytest.raises(SQSMessageGroupError, match=r"\[0\]"):
        check_before_sending("https://sqs.eu-west-1.amazonaws.com/1/q.fifo", [entry(0)])
    with pytest.raises(SQSPublishError, match="at most 10"):
        check_before_sending("q", [entry(0, **{f"a{i}": "v" for i in range(11)})])


def test_dedup_ids_are_needed_unless_content_based_and_unique_within_a_batch() -> None:
    fifo = QueueInfo(name="q.fifo", url="u", fifo=True)
    by_content = QueueInfo(name="q.fifo", url="u", fifo=True, content_based_deduplication=True)
    plain = [entry(0), entry(1)]
    check_deduplication(by_content, plain)
    check_deduplication(QueueInfo(name="q", url="u", fifo=False), plain)
    with pytest.raises(SQSDeduplicationError, match="missing for entries"):
        check_deduplication(fifo, plain)
    same = [
        OutgoingEntry(index=i, body="x", attributes={}, message_deduplication_id="d")
        for i in range(2)
    ]
    with pytest.raises(SQSDeduplicationError, match="duplicate"):
        check_deduplication(fifo, same)
