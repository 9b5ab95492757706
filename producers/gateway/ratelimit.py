"""Per-key token buckets (API Gateway usage-plan throttling: a rate and a burst).

aiolimiter would make the caller *wait* for capacity; a gateway must instead refuse at once
and say when to come back (``Retry-After``), so this is a small bucket of its own.
The table of buckets is bounded: the least recently used key is forgotten first, which at
worst hands an idle track a fresh (full) bucket.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Distinct keys remembered before the least recently used is dropped (a bucket is ~100 B).
MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``per_min`` tokens a minute, at most ``burst`` saved up, one bucket per key."""

    def __init__(
        self,
        *,
        per_min: int,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.rate = per_min / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, key: str) -> int | None:
        """Take one token for ``key``: None when allowed, else whole seconds until one is free."""
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(tokens=self.burst, updated=now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        self._buckets[key] = bucket
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))


class TenantRateLimiter:
    """One bucket per tenant at that tenant's own ``rate_per_min`` (burst: 10 s of it).

    A tenant's rate can change (``tenants set``): buckets are kept per rate, so a new rate
    starts from a full bucket at once instead of waiting for the old one to drain.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_rate: dict[int, RateLimiter] = {}

    def acquire(self, tenant: str, *, per_min: int) -> int | None:
        limiter = self._by_rate.get(per_min)
        if limiter is None:
            limiter = RateLimiter(
                per_min=per_min, burst=max(1, per_min // 6), clock=self._clock, max_keys=10_000
            )
            self._by_rate[per_min] = limiter
        return limiter.acquire(tenant)
