"""CSP client fixtures: respx in place of the CSP, an injected clock, a fresh registry."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumers.csp import CircuitBreaker, CspClient, CspMetrics, RetryPolicy, rate_limiter

BASE = "https://csp.example.test/api"
ACCOUNTS_URL = f"{BASE}/current_user/accounts"
TOKEN = "csp-s3cret-" + "x7" * 12
#: Retries without waiting: these tests are about which calls are made, not how long apart.
NO_WAIT = RetryPolicy(attempts=3, wait_initial_s=0, wait_max_s=0, wait_jitter_s=0)


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def account(i: int, *, state: str = "active") -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=i)),
        "name": f"lab-aws-{i:04d}",
        "state": state,
        "sfdc_account_id": f"001SFDC{i:011d}",
        "created_at": "2026-11-01T10:00:00Z",
    }


def paginated(accounts: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    """A DRF-style page-number listing of ``accounts`` (read on every call, so tests can
    change the list between pages)."""

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        size = int(request.url.params["page_size"])
        chunk = accounts[(page - 1) * size : page * size]
        more = page * size < len(accounts)
        nxt = request.url.copy_set_param("page", str(page + 1)) if more else None
        return httpx.Response(
            200,
            json={
                "count": len(accounts),
                "next": str(nxt) if nxt else None,
                "previous": None,
                "results": chunk,
            },
        )

    return handler


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def csp() -> Iterator[respx.MockRouter]:
    """The CSP: every request must match a route (assert_all_mocked)."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def make_client(
    http: httpx.AsyncClient, clock: FakeClock, registry: CollectorRegistry
) -> Callable[..., CspClient]:
    def make(**overrides: Any) -> CspClient:
        kwargs: dict[str, Any] = {
            "base_url": BASE,
            "token": SecretStr(TOKEN),
            "limiter": rate_limiter(10_000),
            "breaker": CircuitBreaker(clock=clock),
            "retry": NO_WAIT,
            "page_size": 2,
            "metrics": CspMetrics(registry),
            **overrides,
        }
        return CspClient(http, **kwargs)

    return make


def requests_total(registry: CollectorRegistry, operation: str, outcome: str) -> float:
    value = registry.get_sample_value(
        "broker_csp_requests_total", {"operation": operation, "outcome": outcome}
    )
    return value or 0.0
