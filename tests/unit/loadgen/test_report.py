"""Figures from records: exact quantiles, the double-allocation check, what counts as lost."""

from __future__ import annotations

import math

import pytest

from producers.loadgen.report import (
    NO_REPLY,
    SUCCEEDED,
    UNANSWERABLE,
    LatencyStats,
    RequestRecord,
    find_doubles,
    quantile,
    summarize,
)


def record(
    n: int,
    *,
    track: str,
    action: str = "allocate",
    sandbox: str | None = None,
    at: float = 0.0,
    outcome: str = SUCCEEDED,
    took: float = 0.1,
    kind: str = "good",
):
    return RequestRecord(
        index=n,
        track_id=track,
        action=action,
        kind=kind,
        started=at,
        started_wall=1000 + at,
        request_id=f"req_{n}",
        accepted=at + 0.01,
        finished=at + took,
        outcome=outcome,
        sandbox_id=sandbox,
        completed_at=1000 + at + took / 2,
    )


def test_quantiles_are_nearest_rank_over_sorted_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert quantile(values, 50) == 50
    assert quantile(values, 99) == 99
    assert quantile(values, 100) == 100
    assert quantile([7.0], 99) == 7.0
    assert math.isnan(quantile([], 50))


def test_latency_stats_are_in_milliseconds() -> None:
    stats = LatencyStats.of([0.2, 0.1, 0.3])
    assert (stats.count, stats.p50_ms, stats.max_ms, stats.mean_ms) == (3, 200.0, 300.0, 200.0)
    assert LatencyStats.of([]).p99_ms is None


def test_one_sandbox_for_two_tracks_is_a_double() -> None:
    records = [record(1, track="a", sandbox="s1", at=0), record(2, track="b", sandbox="s1", at=1)]
    (double,) = find_doubles(records)
    assert double.sandbox_id == "s1"
    assert double.tracks == ["a", "b"]


def test_a_sandbox_passed_on_after_its_release_is_not_a_double() -> None:
    records = [
        record(1, track="a", sandbox="s1", at=0),
        record(2, track="a", action="release", sandbox="s1", at=1),
        record(3, track="b", sandbox="s1", at=2),
    ]
    assert find_doubles(records) == []


def test_a_release_after_the_second_claim_does_not_excuse_it() -> None:
    records = [
        record(1, track="a", sandbox="s1", at=0),
        record(2, track="b", sandbox="s1", at=1),
        record(3, track="a", action="release", sandbox="s1", at=2),
    ]
    assert len(find_doubles(records)) == 1


def test_idempotent_repeats_of_one_track_are_not_doubles() -> None:
    records = [record(n, track="a", sandbox="s1", at=n) for n in range(3)]
    assert find_doubles(records) == []


def test_failed_replies_never_count_as_holding_a_sandbox() -> None:
    records = [
        record(1, track="a", sandbox="s1"),
        record(2, track="b", sandbox="s1", outcome="NO_SANDBOXES_AVAILABLE"),
    ]
    assert find_doubles(records) == []


def test_summary_counts_outcomes_and_unanswered_requests() -> None:
    records = [
        record(0, track="a", sandbox="s1", took=0.1),
        record(1, track="b", sandbox="s2", took=0.3),
        record(2, track="c", outcome="NO_SANDBOXES_AVAILABLE", took=0.2),
        record(3, track="d", outcome=NO_REPLY, took=5),
        record(4, track="e", action="poison", kind="poison", outcome=UNANSWERABLE, took=0),
    ]
    summary = summarize(
        records,
        target="gateway",
        pacing="burst",
        started_at="now",
        client_calls={"GET 200": 8, "POST 202": 4},
        server_delta={
            "AmazonSQS.SendMessage": 4,
            "DynamoDB_20120810.GetItem": 10,
            "DynamoDB_20120810.TransactWriteItems": 2,
        },
        loadgen_reads=8,
    )
    assert summary.requests == 4
    assert summary.poison == 1
    assert summary.without_reply == 1  # the unanswerable poison is not "lost"
    assert summary.outcomes == {
        "NO_REPLY": 1,
        "NO_SANDBOXES_AVAILABLE": 1,
        "UNANSWERABLE": 1,
        "succeeded": 2,
    }
    assert summary.distinct_sandboxes == 2
    assert summary.latency["allocate"].count == 3
    assert summary.latency["allocate"].max_ms == 300.0
    assert summary.server_calls is not None
    assert summary.server_calls.dynamodb == 12
    # consumers' DynamoDB calls: 12 in all less the 8 reply reads we caused, per success
    assert summary.server_calls.dynamodb_without_loadgen_per_success == pytest.approx(2.0)
    assert summary.client_calls.per_request["GET 200"] == pytest.approx(8 / 5)
    assert not summary.ok


def test_without_the_embedded_counter_server_calls_are_absent() -> None:
    summary = summarize(
        [record(0, track="a", sandbox="s1")],
        target="gateway",
        pacing="burst",
        started_at="now",
        client_calls={},
        server_delta=None,
        loadgen_reads=0,
    )
    assert summary.server_calls is None
    assert summary.ok
