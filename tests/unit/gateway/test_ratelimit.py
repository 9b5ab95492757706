"""Token buckets: a burst, then the rate; Retry-After says when the next token is free."""

from __future__ import annotations

from producers.gateway.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_allowed_then_refused_with_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(per_min=60, burst=3, clock=clock)
    assert [limiter.acquire("t") for _ in range(3)] == [None, None, None]
    assert limiter.acquire("t") == 1  # one token a second at 60/min


def test_tokens_refill_at_the_rate_up_to_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(per_min=60, burst=2, clock=clock)
    assert limiter.acquire("t") is None
    assert limiter.acquire("t") is None
    assert limiter.acquire("t") is not None
    clock.now += 1.0
    assert limiter.acquire("t") is None
    assert limiter.acquire("t") is not None
    clock.now += 3600  # a long idle time saves up at most the burst
    assert [limiter.acquire("t") for _ in range(3)] == [None, None, 1]


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    clock = Clock()
    limiter = RateLimiter(per_min=6, burst=1, clock=clock)  # one token every 10 s
    assert limiter.acquire("t") is None
    assert limiter.acquire("t") == 10
    clock.now += 9.5
    assert limiter.acquire("t") == 1  # half a second left: still one whole second


def test_default_budget_is_100_a_minute_with_burst_20() -> None:
    clock = Clock()
    limiter = RateLimiter(per_min=100, burst=20, clock=clock)
    allowed = sum(limiter.acquire("t") is None for _ in range(50))
    assert allowed == 20
    clock.now += 60
    allowed = sum(limiter.acquire("t") is None for _ in range(200))
    assert allowed == 20  # refilled to the burst, not to 100


def test_each_key_has_its_own_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(per_min=60, burst=1, clock=clock)
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is not None
    assert limiter.acquire("b") is None


def test_the_table_of_buckets_is_bounded_least_recently_used_first() -> None:
    clock = Clock()
    limiter = RateLimiter(per_min=60, burst=1, clock=clock, max_keys=2)
    assert limiter.acquire("a") is None
    assert limiter.acquire("b") is None
    assert limiter.acquire("a") is not None  # a is now the most recently used
    assert limiter.acquire("c") is None  # evicts b
    assert limiter.acquire("a") is not None  # a was kept
    assert limiter.acquire("b") is None  # b was forgotten: a fresh bucket
