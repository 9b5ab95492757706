"""The circuit breaker: 5 failures in 60 s open it, one probe after the cool-down decides."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
import respx
from prometheus_client import CollectorRegistry

from consumers.csp import CircuitBreaker, CircuitState, CspClient, CspUnavailableError
from consumers.csp.breaker import CircuitOpenError
from tests.unit.csp.conftest import FakeClock, account, paginated, requests_total

MakeClient = Callable[..., CspClient]


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        probe = breaker.admit()
        breaker.record_failure(probe=probe)


def half_open(clock: FakeClock) -> CircuitBreaker:
    """A breaker that five failures opened, at the end of its (default, 30 s) cool-down."""
    breaker = CircuitBreaker(clock=clock)
    fail(breaker, 5)
    clock.advance(30)
    assert breaker.state is CircuitState.HALF_OPEN
    return breaker


# -- the state machine ------------------------------------------------------------------------


def test_five_failures_within_the_window_open_it(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock)
    fail(breaker, 4)
    assert breaker.state is CircuitState.CLOSED

    fail(breaker, 1)

    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError) as caught:
        breaker.admit()
    assert caught.value.retry_after == pytest.approx(30.0)


def test_failures_older_than_the_window_do_not_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock)
    fail(breaker, 4)
    clock.advance(60.5)

    fail(breaker, 4)
    assert breaker.state is CircuitState.CLOSED
    fail(breaker, 1)
    assert breaker.state is CircuitState.OPEN


def test_successes_in_between_do_not_reset_the_count(clock: FakeClock) -> None:
    """It is "5 failures in 60 s", not "5 in a row": a flapping CSP opens it too."""
    breaker = CircuitBreaker(clock=clock)
    for _ in range(5):
        breaker.record_success(probe=breaker.admit())
        fail(breaker, 1)
        clock.advance(5)

    assert breaker.state is CircuitState.OPEN


def test_after_the_cool_down_exactly_one_probe_goes_through(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock, cooldown_s=30)
    fail(breaker, 5)
    clock.advance(29.9)
    assert breaker.state is CircuitState.OPEN
    clock.advance(0.1)
    assert breaker.state is CircuitState.HALF_OPEN

    assert breaker.admit() is True  # the probe
    with pytest.raises(CircuitOpenError):
        breaker.admit()  # everyone else waits for its verdict
    assert breaker.state is CircuitState.HALF_OPEN


def test_a_successful_probe_closes_it_and_forgets_old_failures(clock: FakeClock) -> None:
    breaker = half_open(clock)

    breaker.record_success(probe=breaker.admit())

    assert breaker.state is CircuitState.CLOSED
    fail(breaker, 4)
    assert breaker.state is CircuitState.CLOSED


def test_a_failed_probe_opens_it_for_a_fresh_cool_down(clock: FakeClock) -> None:
    breaker = half_open(clock)

    breaker.record_failure(probe=breaker.admit())

    assert breaker.state is CircuitState.OPEN
    clock.advance(29)
    assert breaker.state is CircuitState.OPEN
    clock.advance(1)
    assert breaker.state is CircuitState.HALF_OPEN


def test_a_cancelled_probe_lets_the_next_call_probe(clock: FakeClock) -> None:
    breaker = half_open(clock)

    breaker.release(probe=breaker.admit())

    assert breaker.admit() is True


def test_calls_admitted_before_it_opened_do_not_extend_it(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock)
    in_flight = [breaker.admit() for _ in range(3)]
    fail(breaker, 5)
    clock.advance(20)
    for probe in in_flight:
        breaker.record_failure(probe=probe)  # slow calls failing late
    clock.advance(10)

    assert breaker.state is CircuitState.HALF_OPEN


# -- the client behind it -------------------------------------------------------------------


async def test_the_client_fails_fast_once_five_calls_failed(
    csp: respx.MockRouter, make_client: MakeClient, registry: CollectorRegistry
) -> None:
    route = csp.get("/current_user/accounts").respond(503)
    client = make_client()

    for _ in range(5):
        with pytest.raises(CspUnavailableError) as caught:
            await client.list_accounts()
        assert not caught.value.circuit_open
    calls = route.call_count
    assert calls == 15  # 5 calls x 3 attempts: retries count once per call

    with pytest.raises(CspUnavailableError) as caught:
        await client.list_accounts()

    assert caught.value.circuit_open
    assert caught.value.retry_after == pytest.approx(30.0)
    assert route.call_count == calls  # no HTTP request at all
    assert client.circuit_state is CircuitState.OPEN
    assert registry.get_sample_value("broker_csp_circuit_state") == 2
    assert requests_total(registry, "list_accounts", "circuit_open") == 1


async def test_a_probe_is_one_attempt_and_its_success_closes_the_circuit(
    csp: respx.MockRouter, make_client: MakeClient, clock: FakeClock, registry: CollectorRegistry
) -> None:
    route = csp.get("/current_user/accounts").respond(503)
    client = make_client()
    for _ in range(5):
        with pytest.raises(CspUnavailableError):
            await client.list_accounts()
    clock.advance(30)
    assert registry.get_sample_value("broker_csp_circuit_state") == 1

    route.mock(side_effect=paginated([account(1)]))
    got = await client.list_accounts()

    assert len(got) == 1
    assert client.circuit_state is CircuitState.CLOSED
    assert registry.get_sample_value("broker_csp_circuit_state") == 0


async def test_a_failed_probe_reopens_after_a_single_request(
    csp: respx.MockRouter, make_client: MakeClient, clock: FakeClock
) -> None:
    route = csp.get("/current_user/accounts").respond(503)
    client = make_client()
    for _ in range(5):
        with pytest.raises(CspUnavailableError):
            await client.list_accounts()
    clock.advance(30)
    calls = route.call_count

    with pytest.raises(CspUnavailableError) as caught:
        await client.list_accounts()

    assert not caught.value.circuit_open  # the probe itself failed upstream
    assert route.call_count == calls + 1  # one attempt, no retries while half-open
    assert client.circuit_state is CircuitState.OPEN
    with pytest.raises(CspUnavailableError) as caught:
        await client.list_accounts()
    assert caught.value.circuit_open
    assert route.call_count == calls + 1


async def test_while_the_probe_is_in_flight_other_calls_fail_fast(
    csp: respx.MockRouter, make_client: MakeClient, clock: FakeClock
) -> None:
    route = csp.get("/current_user/accounts").respond(503)
    client = make_client()
    for _ in range(5):
        with pytest.raises(CspUnavailableError):
            await client.list_accounts()
    clock.advance(30)
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow_ok(request: httpx.Request) -> httpx.Response:
        entered.set()
        await release.wait()
        return paginated([])(request)

    route.mock(side_effect=slow_ok)
    probe = asyncio.create_task(client.list_accounts())
    await asyncio.wait_for(entered.wait(), timeout=5)

    with pytest.raises(CspUnavailableError) as caught:
        await client.delete_account(account(1)["id"])
    assert caught.value.circuit_open

    release.set()
    assert await asyncio.wait_for(probe, timeout=5) == []
    assert client.circuit_state is CircuitState.CLOSED
