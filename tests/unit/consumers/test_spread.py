"""Candidate spread: random start keys shaped like real ids, and the wrap-round pass."""

from __future__ import annotations

import random
import string

from hypothesis import given
from hypothesis import strategies as st

from consumers.stores.spread import SPREAD_MARK, WRAP_MARK, CandidateSpread, random_like

ids = st.text(alphabet=string.ascii_letters + string.digits + "-_:.", min_size=1, max_size=40)


@given(sample=ids, seed=st.integers(0, 2**32))
def test_a_random_id_keeps_the_samples_length_and_separators(sample: str, seed: int) -> None:
    made = random_like(sample, random.Random(seed))
    assert len(made) == len(sample)
    for a, b in zip(sample, made, strict=True):
        assert a.isalnum() == b.isalnum()
        if not a.isalnum():
            assert a == b


@given(seed=st.integers(0, 2**32))
def test_digits_stay_digits_and_lower_hex_stays_lower_hex(seed: int) -> None:
    rng = random.Random(seed)
    assert random_like("2012220", rng).isdigit()
    made = random_like("0f3a9c1e-aaaa-4bbb-8ccc-0123456789ab", rng)
    assert set(made) <= set("0123456789abcdef-")


def test_without_a_sample_a_listing_starts_at_the_beginning() -> None:
    spread = CandidateSpread(random.Random(1))
    assert spread.wants_sample
    position = spread.position(None)
    assert position.exclusive_start_key is None
    assert not position.spread
    assert spread.continuation(position, None) is None


def test_an_empty_sample_read_is_not_repeated() -> None:
    spread = CandidateSpread(random.Random(1))
    spread.sampled(None)
    assert not spread.wants_sample
    assert spread.position(None).exclusive_start_key is None


def test_a_first_page_starts_at_a_random_available_key_and_wraps_at_the_end() -> None:
    spread = CandidateSpread(random.Random(1))
    spread.sampled("sbx-00042")
    first = spread.position(None)
    assert first.random_start
    assert first.spread
    key = first.exclusive_start_key
    assert key is not None
    made = key["PK"]["S"].removeprefix("SBX#")
    assert len(made) == len("sbx-00042")
    assert made[3] == "-"
    assert key["status"] == {"S": "available"}
    assert SPREAD_MARK not in key
    # more pages in the spread pass: the continuation is marked, the mark never sent
    last = {"PK": {"S": "SBX#sbx-00050"}, "SK": {"S": "META"}}
    marked = spread.continuation(first, last)
    assert marked is not None
    assert marked[SPREAD_MARK] == {"BOOL": True}
    second = spread.position(marked)
    assert second.spread
    assert second.exclusive_start_key == last
    # the end of the spread pass starts the pass from the beginning, which ends the listing
    wrap = spread.continuation(second, None)
    assert wrap == {WRAP_MARK: {"BOOL": True}}
    from_start = spread.position(wrap)
    assert from_start.exclusive_start_key is None
    assert not from_start.spread
    assert spread.continuation(from_start, None) is None


def test_once_refused_no_more_random_starts() -> None:
    spread = CandidateSpread(random.Random(1))
    spread.saw("sbx-1")
    spread.refuse()
    assert spread.position(None) == spread.position(None)
    assert spread.position(None).exclusive_start_key is None
