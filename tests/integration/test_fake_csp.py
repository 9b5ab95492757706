"""The real CspClient against the real fake CSP over HTTP: pages, deletes, and each fault."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import typer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from typer.testing import CliRunner

from consumers.csp import (
    CircuitBreaker,
    CircuitState,
    CspClient,
    CspMetrics,
    CspResponseError,
    CspUnavailableError,
    DeleteOutcome,
    RetryPolicy,
    rate_limiter,
)
from infra.fake_csp import FakeCsp, fake_csp_app
from schemas.settings import ConsumerSettings

pytestmark = pytest.mark.integration

TOKEN = "fake-csp-token-" + "k9" * 10
FAST_RETRIES = RetryPolicy(attempts=3, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0.01)


@pytest.fixture
def fake() -> Iterator[FakeCsp]:
    with FakeCsp(token=TOKEN, accounts=250, seed=7) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def make_client(fake: FakeCsp, http: httpx.AsyncClient) -> Callable[..., CspClient]:
    def make(**overrides: Any) -> CspClient:
        kwargs: dict[str, Any] = {
            "base_url": fake.url,
            "token": SecretStr(TOKEN),
            "limiter": rate_limiter(1000),
            "breaker": CircuitBreaker(),
            "timeout_s": 2.0,
            "page_size": 100,
            "retry": FAST_RETRIES,
            "metrics": CspMetrics(CollectorRegistry()),
            **overrides,
        }
        return CspClient(http, **kwargs)

    return make


async def test_lists_every_page_of_the_fake(fake: FakeCsp, http: httpx.AsyncClient) -> None:
    settings = ConsumerSettings(csp_base_url=fake.url, csp_token=SecretStr(TOKEN))
    client = CspClient.from_settings(settings, http=http)

    accounts = await client.list_accounts()

    assert len(accounts) == 250
    assert {a.id for a in accounts} == {a.id for a in fake.accounts()}
    assert fake.stats()["calls"]["list_accounts"] == 3  # 100 + 100 + 50
    prefixes = {a.name.rsplit("-", 1)[0] for a in accounts}
    assert prefixes == {"lab-aws", "lab-azure", "lab-gcp"}
    assert all(a.external_id == f"identity/accounts/{a.id}" and a.is_usable for a in accounts)


async def test_a_deleted_account_is_no_longer_listed_and_a_second_delete_is_already_gone(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    client = make_client()
    victim = (await client.list_accounts())[10]

    assert await client.delete_account(victim.id) is DeleteOutcome.DELETED
    listed = await client.list_accounts()

    assert victim.id not in {a.id for a in listed}
    assert len(listed) == 249
    assert await client.delete_account(victim.id) is DeleteOutcome.ALREADY_GONE
    assert fake.stats()["deleted"] == 1


async def test_the_csp_pool_changing_shows_in_the_next_listing(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    client = make_client()
    gone = fake.accounts()[0]
    fake.remove_account(gone.id)
    [new] = fake.add_accounts(1, prefix="lab-gcp")

    ids = {a.id for a in await client.list_accounts()}

    assert new.id in ids and gone.id not in ids
    assert new.name.startswith("lab-gcp-")


async def test_a_wrong_token_is_rejected(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    client = make_client(token=SecretStr("not-the-token"))

    with pytest.raises(CspResponseError) as caught:
        await client.list_accounts()

    assert caught.value.status_code == 401
    assert fake.stats()["statuses"]["list_accounts"] == {"401": 1}


async def test_down_is_unavailable_and_five_failures_open_the_circuit(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    client = make_client()
    fake.set_faults(down=True)

    for _ in range(5):
        with pytest.raises(CspUnavailableError) as caught:
            await client.list_accounts()
        assert caught.value.status_code == 503
    requests = fake.stats()["calls"]["list_accounts"]

    with pytest.raises(CspUnavailableError) as caught:
        await client.list_accounts()

    assert caught.value.circuit_open
    assert fake.stats()["calls"]["list_accounts"] == requests  # failed fast, no request
    assert client.circuit_state is CircuitState.OPEN


async def test_a_refused_connection_is_unavailable_until_the_server_is_back(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    client = make_client()
    await asyncio.to_thread(fake.stop)

    with pytest.raises(CspUnavailableError, match="unreachable") as caught:
        await client.list_accounts()
    assert caught.value.status_code is None

    await asyncio.to_thread(fake.start)  # same port
    assert len(await client.list_accounts()) == 250


async def test_a_5xx_burst_is_absorbed_by_retries(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    client = make_client()
    fake.set_faults(fail_next=2, status_code=502)

    accounts = await client.list_accounts()

    assert len(accounts) == 250
    statuses = fake.stats()["statuses"]["list_accounts"]
    assert statuses == {"502": 2, "200": 3}
    assert client.circuit_state is CircuitState.CLOSED


async def test_random_errors_are_retried_until_every_delete_is_done(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    """20 % of requests fail; with six attempts every delete lands (odds of one not: 0.3 %)."""
    client = make_client(retry=RetryPolicy(attempts=6, wait_initial_s=0, wait_jitter_s=0.01))
    victims = [a.id for a in fake.accounts()[:40]]
    fake.set_faults(error_rate=0.2)

    outcomes = await asyncio.gather(*(client.delete_account(v) for v in victims))

    assert set(outcomes) == {DeleteOutcome.DELETED}
    stats = fake.stats()
    assert stats["deleted"] == 40 and stats["accounts"] == 210
    assert stats["statuses"]["delete_account"].get("503", 0) > 0


async def test_slow_beyond_the_timeout_is_unavailable_and_recovers(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    client = make_client(timeout_s=0.1)
    fake.set_faults(latency_ms=400)

    with pytest.raises(CspUnavailableError, match="timed out"):
        await client.list_accounts()
    assert fake.stats()["calls"]["list_accounts"] == 3  # every attempt timed out

    fake.clear_faults()
    assert len(await client.list_accounts()) == 250


async def test_added_latency_within_the_timeout_only_slows_it_down(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    client = make_client()
    fake.set_faults(latency_ms=50)

    started = time.perf_counter()
    await client.delete_account(fake.accounts()[0].id)

    assert time.perf_counter() - started >= 0.05


async def test_an_empty_answer_is_an_empty_list(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    fake.set_faults(empty=True)

    assert await make_client().list_accounts() == []


async def test_retry_after_is_waited_for_real(
    fake: FakeCsp, make_client: Callable[..., CspClient]
) -> None:
    client = make_client()
    fake.set_faults(fail_next=1, status_code=429, retry_after=1)

    started = time.perf_counter()
    outcome = await client.delete_account(fake.accounts()[0].id)

    assert outcome is DeleteOutcome.DELETED
    assert time.perf_counter() - started >= 1.0
    assert fake.stats()["statuses"]["delete_account"] == {"429": 1, "204": 1}


async def test_another_process_can_steer_faults_and_accounts_over_http(
    fake: FakeCsp, make_client: Callable[..., CspClient], http: httpx.AsyncClient
) -> None:
    client = make_client()
    admin = fake.admin_url

    (await http.post(f"{admin}/_fault", json={"down": True})).raise_for_status()
    with pytest.raises(CspUnavailableError):
        await client.list_accounts()
    assert (await http.get(f"{admin}/_fault")).json()["down"] is True

    (await http.post(f"{admin}/_fault", json={})).raise_for_status()
    added = (await http.post(f"{admin}/_accounts", json={"n": 2, "prefix": "lab-x"})).json()
    removed = await http.delete(f"{admin}/_accounts/{added['added'][0]}")
    assert removed.status_code == 204

    names = {a.name for a in await client.list_accounts()}
    assert "lab-x-0002" in names and "lab-x-0001" not in names
    stats = (await http.get(f"{admin}/_stats")).json()
    assert stats["accounts"] == 251
    assert stats["statuses"]["list_accounts"]["503"] == 3
    assert (await http.delete(f"{admin}/_stats")).status_code == 204
    assert (await http.get(f"{admin}/_stats")).json()["calls"]["list_accounts"] == 0


def test_the_fake_serves_sync_callers_too(fake: FakeCsp) -> None:
    auth = {"Authorization": f"Token {TOKEN}"}
    page = httpx.get(f"{fake.url}/current_user/accounts", params={"page_size": 3}, headers=auth)

    body = page.json()
    assert body["count"] == 250
    assert len(body["results"]) == 3
    assert body["previous"] is None
    assert httpx.get(body["next"], headers=auth).json()["results"][0]["id"] not in {
        r["id"] for r in body["results"]
    }
    assert httpx.get(f"{fake.url}/current_user/accounts?page=99", headers=auth).status_code == 404
    assert httpx.get(f"{fake.url}/current_user/accounts").status_code == 401


async def test_the_fake_works_as_an_async_context_manager() -> None:
    async with FakeCsp(token=TOKEN, accounts=3) as server, httpx.AsyncClient() as http:
        response = await http.get(
            f"{server.url}/current_user/accounts", headers={"Authorization": f"Token {TOKEN}"}
        )
        assert response.json()["count"] == 3
    assert not server.running


def test_the_cli_mounts_as_sandbox_broker_fake_csp() -> None:
    root = typer.Typer()
    root.add_typer(fake_csp_app, name="fake-csp")

    result = CliRunner().invoke(root, ["fake-csp", "--help"])

    assert result.exit_code == 0, result.output
    assert "--accounts" in result.output and "--port" in result.output


async def test_the_cli_serves_a_fake_another_process_can_steer(http: httpx.AsyncClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "from infra.fake_csp import fake_csp_app; fake_csp_app()"
    args = ["--port", str(port), "--accounts", "12", "--prefix", "lab-a", "--prefix", "lab-b"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env={**os.environ, "BROKER_CSP_TOKEN": TOKEN},
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                stats = (await http.get(f"{base}/_stats")).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the fake CSP CLI did not come up"
                await asyncio.sleep(0.05)  # polling a port another process opens
        assert stats["accounts"] == 12

        client = CspClient(
            http,
            base_url=f"{base}/api",
            token=SecretStr(TOKEN),
            limiter=rate_limiter(100),
            breaker=CircuitBreaker(),
            retry=FAST_RETRIES,
        )
        names = sorted(a.name for a in await client.list_accounts())
        assert names[:2] == ["lab-a-0001", "lab-a-0002"] and names[-1] == "lab-b-0006"

        await http.post(f"{base}/_fault", json={"empty": True})
        assert await client.list_accounts() == []
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 10)
        if proc.stderr:
            proc.stderr.close()
