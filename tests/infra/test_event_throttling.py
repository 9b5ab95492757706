"""Every limit on a request's path admits the largest event the deployment declares.

The event (CONTRACT.md "Rate limit"): ``max_event_tracks`` tracks allocating within one
minute, evenly spread, each on the real track client's schedule (``poll_delays``): allocate,
poll until the reply (written ``event_reply_s`` later), read its sandbox, release, poll
until that reply. Releasing within the same minute is the worst case, not the usual one.
The same event, ``event_headroom`` times denser, must pass the request-rate limits too.

Limits checked, with the Terraform's defaults: the stage (API Gateway's token bucket), the
track usage plan, the WAF rule of one track (and the local gateway's bucket, which the WAF
limit mirrors), SQS FIFO high-throughput quotas, DynamoDB on-demand reads, the
authorizer's cache and concurrency, the read Lambda's concurrency. The old defaults (200/s
stage, one 100/min plan shared by every track) are shown to fail, so the checks bite.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from producers.gateway.ratelimit import RateLimiter
from producers.track_client.protocol import POLL_MAX_S, poll_delays
from schemas.settings import GatewaySettings
from tests.infra.hcl import to_node
from tests.infra.plan import by_key, one, plan, root_module

#: AWS quotas the defaults must stay within (per account and region unless said otherwise).
#: API Gateway's account-level throttle: 10,000 requests/s, burst 5,000.
ACCOUNT_RATE_PER_S = 10_000
ACCOUNT_BURST = 5_000
#: SQS FIFO in high-throughput mode, per API action without batching: 2,400 TPS is the
#: lowest regional quota (70,000 in the largest regions); 300 per message group.
SQS_FIFO_HT_TPS = 2_400
SQS_FIFO_PER_GROUP_TPS = 300
#: A new on-demand DynamoDB table serves up to 12,000 read request units/s at once (a
#: consistent read under 4 KB is one unit); our reads are spread over many keys.
DYNAMODB_ON_DEMAND_RRU = 12_000
#: Lambda's default concurrency per account and region, shared by every unreserved function.
LAMBDA_ACCOUNT_CONCURRENCY = 1_000


@dataclass(frozen=True)
class Request:
    at: float
    kind: str  # allocate | poll | read | release
    track: int


def _polls(start: float, reply_at: float) -> Iterator[float]:
    """The track client's polls after ``start`` up to the first that sees the reply."""
    t = start
    for pause in poll_delays():
        t += pause
        yield t
        if t >= reply_at:
            return


def one_track(reply_s: float, *, track: int = 0, start: float = 0.0) -> list[Request]:
    out = [Request(start, "allocate", track)]
    polls = list(_polls(start, start + reply_s))
    out += [Request(t, "poll", track) for t in polls]
    seen = polls[-1]
    out += [Request(seen, "read", track), Request(seen, "release", track)]
    out += [Request(t, "poll", track) for t in _polls(seen, seen + reply_s)]
    return out


def event(tracks: int, *, window_s: float, reply_s: float) -> list[Request]:
    requests = [
        r for i in range(tracks) for r in one_track(reply_s, track=i, start=i * window_s / tracks)
    ]
    return sorted(requests, key=lambda r: r.at)


def throttled(times: list[float], *, rate_per_s: float, burst: float) -> int:
    """Requests a token bucket (API Gateway's throttle: full at start) would refuse."""
    tokens, last, refused = burst, 0.0, 0
    for t in times:
        tokens = min(burst, tokens + (t - last) * rate_per_s)
        last = t
        if tokens >= 1:
            tokens -= 1
        else:
            refused += 1
    return refused


def most_in_window(times: list[float], window_s: float) -> int:
    """The most requests in any interval of ``window_s`` (sorted ``times``)."""
    best = 0
    for i, t in enumerate(times):
        best = max(best, bisect.bisect_left(times, t + window_s) - i)
    return best


def default(name: str) -> Any:
    return plan().eval(to_node(root_module().variables[name]["default"]), {})


@pytest.fixture(scope="module")
def declared() -> dict[str, Any]:
    ev = plan()
    api = ev.child("api_gateway")
    settings = one(api, "aws_api_gateway_method_settings", "all").config()["settings"][0]
    plans = {k: p.config() for k, p in by_key(api, "aws_api_gateway_usage_plan", "role").items()}
    return {
        "tracks": default("max_event_tracks"),
        "reply_s": default("event_reply_s"),
        "headroom": default("event_headroom"),
        "stage_rate": settings["throttling_rate_limit"],
        "stage_burst": settings["throttling_burst_limit"],
        "track_plan": plans["track"]["throttle_settings"][0],
        "waf_limit": ev.child("waf").output("limit_per_window"),
        "authorizer_ttl_s": one(api, "aws_api_gateway_authorizer", "token").get(
            "authorizer_result_ttl_in_seconds"
        ),
        "authorizer": one(ev.child("authorizer"), "aws_lambda_function", "authorizer").config(),
        "read_lambda": one(ev.child("read_lambda"), "aws_lambda_function", "read").config(),
        "queues": {q.get("name"): q.config() for q in ev.child("sqs").instances("aws_sqs_queue")},
        "tables": {
            t.get("name"): t.config() for t in ev.child("dynamodb").instances("aws_dynamodb_table")
        },
    }


@pytest.fixture(scope="module")
def calm(declared: dict[str, Any]) -> list[Request]:
    return event(declared["tracks"], window_s=60, reply_s=declared["reply_s"])


@pytest.fixture(scope="module")
def dense(declared: dict[str, Any]) -> list[Request]:
    """The same event with its tracks event_headroom times closer together."""
    return event(
        declared["tracks"], window_s=60 / declared["headroom"], reply_s=declared["reply_s"]
    )


def test_the_terraform_sizes_on_the_track_clients_own_schedule(declared: dict[str, Any]) -> None:
    ev = plan()
    first: list[float] = []
    for pause in poll_delays():
        if pause >= POLL_MAX_S:
            break
        first.append(pause)
    assert ev.local("poll_first_pauses_s") == first
    assert ev.local("poll_max_s") == POLL_MAX_S
    track = one_track(declared["reply_s"])
    polls = sum(1 for r in track if r.kind == "poll")
    assert ev.local("polls_per_reply") * 2 == polls
    assert ev.local("requests_per_track") == len(track)
    assert declared["tracks"] == 2_000


def test_the_stage_admits_the_event_and_a_denser_one(
    declared: dict[str, Any], calm: list[Request], dense: list[Request]
) -> None:
    # Stage-level throttling is a bucket per method: each method carries a share of these
    # requests, so the whole event passing one bucket bounds every method's share.
    for requests in (calm, dense):
        times = [r.at for r in requests]
        assert (
            throttled(times, rate_per_s=declared["stage_rate"], burst=declared["stage_burst"]) == 0
        )
    assert declared["stage_rate"] <= ACCOUNT_RATE_PER_S
    assert declared["stage_burst"] <= ACCOUNT_BURST


def test_the_track_usage_plan_admits_every_track_together(
    declared: dict[str, Any], calm: list[Request], dense: list[Request]
) -> None:
    budget = declared["track_plan"]
    for requests in (calm, dense):
        times = [r.at for r in requests]
        assert throttled(times, rate_per_s=budget["rate_limit"], burst=budget["burst_limit"]) == 0


def test_one_track_stays_within_its_waf_rule_and_the_local_bucket(
    declared: dict[str, Any],
) -> None:
    track = one_track(declared["reply_s"])
    times = [r.at for r in track]
    assert most_in_window(times, 60) <= declared["waf_limit"]
    # ... and the local gateway's bucket (the one the WAF limit mirrors) admits it too.
    settings = GatewaySettings()
    now = [0.0]
    limiter = RateLimiter(
        per_min=settings.rate_limit_per_min, burst=settings.rate_limit_burst, clock=lambda: now[0]
    )
    for t in times:
        now[0] = t
        assert limiter.acquire("track-0") is None, t


def test_sqs_takes_the_events_messages(declared: dict[str, Any], dense: list[Request]) -> None:
    for queue in declared["queues"].values():
        if queue.get("fifo_queue") and not queue["name"].endswith("-dlq.fifo"):
            # high-throughput mode: the quotas below are per message group, not per queue
            assert queue["deduplication_scope"] == "messageGroup"
            assert queue["fifo_throughput_limit"] == "perMessageGroupId"
    sends = [r for r in dense if r.kind in {"allocate", "release"}]
    assert most_in_window([r.at for r in sends], 1.0) <= SQS_FIFO_HT_TPS
    per_group = Counter((r.track, math.floor(r.at)) for r in sends)
    assert max(per_group.values()) <= SQS_FIFO_PER_GROUP_TPS


def test_dynamodb_serves_the_events_reads(declared: dict[str, Any], dense: list[Request]) -> None:
    for table in declared["tables"].values():
        assert table["billing_mode"] == "PAY_PER_REQUEST"
    reads = [r.at for r in dense if r.kind in {"poll", "read"}]
    assert most_in_window(reads, 1.0) <= DYNAMODB_ON_DEMAND_RRU


def _concurrency_needed(starts: list[float], timeout_s: float) -> int:
    """Invocations that may run at once if each lasted its whole timeout (an upper bound:
    warm invocations take tens of milliseconds)."""
    return most_in_window(starts, timeout_s)


def test_both_lambdas_have_the_concurrency_the_event_needs(
    declared: dict[str, Any], calm: list[Request]
) -> None:
    # GIVEN the worst case for the authorizer: every track with a token of its own (signed
    # track tokens), so API Gateway's cache saves nothing across tracks
    ttl = declared["authorizer_ttl_s"]
    span = max(r.at for r in one_track(declared["reply_s"]))
    assert ttl >= span, "a track's requests outlive the authorizer cache: it is invoked again"
    first_request = sorted({r.track: r.at for r in reversed(calm)}.values())
    authorizer = _concurrency_needed(first_request, declared["authorizer"]["timeout"])
    reads = [r.at for r in calm if r.kind == "read"]
    read_lambda = _concurrency_needed(reads, declared["read_lambda"]["timeout"])
    # THEN each fits its reservation, or together the account's unreserved pool
    reserved = {
        "authorizer": declared["authorizer"]["reserved_concurrent_executions"],
        "read_lambda": declared["read_lambda"]["reserved_concurrent_executions"],
    }
    need = {"authorizer": authorizer, "read_lambda": read_lambda}
    unreserved_need = 0
    for name, count in need.items():
        if reserved[name] >= 0:
            assert count <= reserved[name], name
        else:
            unreserved_need += count
    held = sum(r for r in reserved.values() if r >= 0)
    assert unreserved_need <= LAMBDA_ACCOUNT_CONCURRENCY - held
    assert authorizer > 0 and read_lambda > 0


def test_the_old_defaults_would_throttle_the_event(calm: list[Request]) -> None:
    """200/s over the stage and one 100/min plan shared by every track: most calls refused."""
    times = [r.at for r in calm]
    assert throttled(times, rate_per_s=200, burst=400) > len(times) // 2
    assert throttled(times, rate_per_s=100 / 60, burst=20) > len(times) * 0.9


def test_an_event_larger_than_declared_is_throttled(declared: dict[str, Any]) -> None:
    """The sizing is not unbounded: four times the declared event overruns the stage."""
    bigger = event(declared["tracks"] * 4, window_s=60, reply_s=declared["reply_s"])
    times = [r.at for r in bigger]
    assert throttled(times, rate_per_s=declared["stage_rate"], burst=declared["stage_burst"]) > 0
