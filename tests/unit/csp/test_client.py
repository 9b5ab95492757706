"""CspClient against respx: pagination, retries, Retry-After, deletes, malformed answers.

(Over 400 lines: one module per client under test, as consumers/csp/client.py is one client.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
import respx
import stamina
from aiolimiter import AsyncLimiter
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from structlog.testing import capture_logs

from consumers.csp import (
    CspClient,
    CspResponseError,
    CspUnavailableError,
    DeleteOutcome,
    RetryPolicy,
    rate_limiter,
)
from consumers.csp.decode import parse_retry_after
from schemas.settings import ConsumerSettings
from tests.unit.csp.conftest import (
    ACCOUNTS_URL,
    BASE,
    TOKEN,
    account,
    paginated,
    requests_total,
)

MakeClient = Callable[..., CspClient]


def delete_route(csp: respx.MockRouter) -> respx.Route:
    return csp.delete(path__regex=r"/sandbox/accounts/[^/]+$")


# -- listing --------------------------------------------------------------------------------


async def test_lists_every_page_by_following_next_links(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    accounts = [account(i) for i in range(1, 6)]
    route = csp.get("/current_user/accounts").mock(side_effect=paginated(accounts))

    got = await make_client(page_size=2).list_accounts()

    assert [a.id for a in got] == [a["id"] for a in accounts]
    assert route.call_count == 3  # 2 + 2 + 1
    first = route.calls[0].request
    assert first.url.params["page_size"] == "2"
    assert first.headers["Authorization"] == f"Token {TOKEN}"
    assert [c.request.url.params.get("page") for c in route.calls] == [None, "2", "3"]


async def test_an_account_maps_to_a_pool_sandbox(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    csp.get("/current_user/accounts").mock(side_effect=paginated([account(7)]))

    [got] = await make_client().list_accounts()

    assert got.sandbox_id == "00000000-0000-0000-0000-000000000007"
    assert got.external_id == "identity/accounts/00000000-0000-0000-0000-000000000007"
    assert got.name == "lab-aws-0007"
    assert got.sfdc_account_id == "001SFDC00000000007"
    assert got.is_usable


async def test_only_active_accounts_are_usable(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    accounts = [account(1), account(2, state="suspended"), account(3, state="provisioning")]
    csp.get("/current_user/accounts").mock(side_effect=paginated(accounts))

    got = await make_client().list_accounts()

    assert [a.is_usable for a in got] == [True, False, False]


async def test_an_empty_listing_is_an_empty_list(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    csp.get("/current_user/accounts").mock(side_effect=paginated([]))

    assert await make_client().list_accounts() == []


async def test_listing_starts_over_when_the_total_changes_between_pages(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    """A delete between pages shifts offsets and would skip an account: start over."""
    accounts = [account(i) for i in range(1, 6)]
    pages = paginated(accounts)
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        response = pages(request)
        if calls == 1:
            del accounts[0]  # the CSP deleted account 1 right after serving page 1
        return response

    csp.get("/current_user/accounts").mock(side_effect=handler)

    got = await make_client(page_size=2).list_accounts()

    assert [a.id for a in got] == [a["id"] for a in accounts]  # 2..5, none skipped


async def test_a_listing_that_never_settles_fails_instead_of_returning_a_partial_list(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    accounts = [account(i) for i in range(1, 100)]
    pages = paginated(accounts)

    def handler(request: httpx.Request) -> httpx.Response:
        response = pages(request)
        accounts.pop()
        return response

    csp.get("/current_user/accounts").mock(side_effect=handler)

    with pytest.raises(CspResponseError, match="kept changing"):
        await make_client(page_size=2).list_accounts()


async def test_a_next_link_to_another_host_is_not_followed(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    """Following it would send the token to whoever the link names."""
    csp.get("/current_user/accounts").respond(
        json={"count": 3, "next": "https://evil.example/steal?page=2", "results": [account(1)]}
    )

    with pytest.raises(CspResponseError, match="origin"):
        await make_client().list_accounts()


async def test_a_pagination_loop_is_refused(csp: respx.MockRouter, make_client: MakeClient) -> None:
    route = csp.get("/current_user/accounts").respond(
        json={"count": 3, "next": f"{ACCOUNTS_URL}?page_size=2", "results": [account(1)]}
    )

    with pytest.raises(CspResponseError, match="never end"):
        await make_client().list_accounts()
    assert route.call_count == 1  # the link points at the page just read


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"<html>oops SECRET-BODY-MARKER</html>", "not JSON"),
        (b'{"count": 1, "detail": "SECRET-BODY-MARKER"}', "results"),
        (
            b'{"count": 1, "results": [{"id": "../SECRET-BODY-MARKER", "name": "x"}]}',
            "results.0.id",
        ),
        (b'{"count": 1, "results": [{"id": "abc"}]}', "results.0.name"),
    ],
)
async def test_a_malformed_body_is_a_response_error_that_does_not_quote_it(
    csp: respx.MockRouter, make_client: MakeClient, body: bytes, where: str
) -> None:
    route = csp.get("/current_user/accounts").respond(200, content=body)

    with pytest.raises(CspResponseError) as caught:
        await make_client().list_accounts()

    assert where in str(caught.value)
    assert "SECRET-BODY-MARKER" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert route.call_count == 1  # a malformed answer is not retried


async def test_a_wrong_token_is_a_response_error_and_not_retried(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    route = csp.get("/current_user/accounts").respond(401, json={"detail": "Invalid token."})

    with pytest.raises(CspResponseError, match="rejected the token") as caught:
        await make_client().list_accounts()

    assert caught.value.status_code == 401
    assert route.call_count == 1


# -- retries --------------------------------------------------------------------------------


async def test_5xx_is_retried_until_it_succeeds(
    csp: respx.MockRouter, make_client: MakeClient, registry: CollectorRegistry
) -> None:
    route = csp.get("/current_user/accounts").mock(
        side_effect=[httpx.Response(503), httpx.Response(500), paginated([account(1)])]
    )

    got = await make_client().list_accounts()

    assert len(got) == 1
    assert route.call_count == 3
    assert requests_total(registry, "list_accounts", "server_error") == 2
    assert requests_total(registry, "list_accounts", "ok") == 1


async def test_transport_errors_and_timeouts_are_retried(
    csp: respx.MockRouter, make_client: MakeClient, registry: CollectorRegistry
) -> None:
    route = delete_route(csp).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(204)]
    )

    assert await make_client().delete_account(account(1)["id"]) is DeleteOutcome.DELETED
    assert route.call_count == 3
    assert requests_total(registry, "delete_account", "transport_error") == 1
    assert requests_total(registry, "delete_account", "timeout") == 1


async def test_5xx_after_every_attempt_is_unavailable(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    route = csp.get("/current_user/accounts").respond(502)

    with pytest.raises(CspUnavailableError) as caught:
        await make_client(
            retry=RetryPolicy(attempts=4, wait_initial_s=0, wait_jitter_s=0)
        ).list_accounts()

    assert route.call_count == 4
    assert caught.value.status_code == 502
    assert not caught.value.circuit_open


async def test_each_request_carries_its_timeout(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    route = csp.get("/current_user/accounts").mock(side_effect=paginated([]))

    await make_client(timeout_s=1.5).list_accounts()

    timeouts = route.calls[0].request.extensions["timeout"]
    assert timeouts == {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}


async def test_429_waits_what_retry_after_asks(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    """The wait requested is Retry-After, not the backoff (stamina's test mode skips the
    actual sleep; the integration suite waits for real)."""
    route = csp.get("/current_user/accounts").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503, headers={"Retry-After": "3"}),
            paginated([account(1)]),
        ]
    )

    with stamina.set_testing(True, attempts=10, cap=True), capture_logs() as logs:
        got = await make_client().list_accounts()

    assert len(got) == 1
    assert route.call_count == 3
    waits = [e["retry_after_s"] for e in logs if e["event"] == "csp_retry_scheduled"]
    assert waits == [7.0, 3.0]


async def test_a_retry_after_longer_than_the_cap_is_handed_to_the_caller(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    """Holding a worker for two minutes is worse than nack(delay=120)."""
    route = csp.get("/current_user/accounts").respond(429, headers={"Retry-After": "120"})
    policy = RetryPolicy(attempts=3, wait_initial_s=0, wait_jitter_s=0, retry_after_max_s=30)

    with pytest.raises(CspUnavailableError) as caught:
        await make_client(retry=policy).list_accounts()

    assert route.call_count == 1
    assert caught.value.status_code == 429
    assert caught.value.retry_after == 120.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC).timestamp()
    in_90s = format_datetime(datetime(2026, 11, 23, 12, 1, 30, tzinfo=UTC), usegmt=True)

    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(in_90s, now=now) == 90.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0  # past: now
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("inf") is None


# -- deletes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, DeleteOutcome.DELETED), (204, DeleteOutcome.DELETED), (404, DeleteOutcome.ALREADY_GONE)],
)
async def test_delete_200_204_and_404_all_mean_done(
    csp: respx.MockRouter, make_client: MakeClient, status: int, outcome: DeleteOutcome
) -> None:
    account_id = account(42)["id"]
    route = csp.delete(f"/sandbox/accounts/{account_id}").respond(status)

    assert await make_client().delete_account(account_id) is outcome
    assert route.call_count == 1
    assert route.calls[0].request.headers["Authorization"] == f"Token {TOKEN}"


async def test_delete_of_an_id_that_is_not_one_path_segment_is_refused_before_any_call(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    route = delete_route(csp).respond(204)
    client = make_client()

    for bad in ("../../admin", "a/b", "", "x" * 129, "id?x=1"):
        with pytest.raises(ValueError, match="not a CSP account id"):
            await client.delete_account(bad)
    assert route.call_count == 0


async def test_delete_400_is_a_response_error(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    delete_route(csp).respond(400, json={"detail": "account is protected"})

    with pytest.raises(CspResponseError) as caught:
        await make_client().delete_account(account(1)["id"])
    assert caught.value.status_code == 400


# -- rate limit, logs, token hygiene ----------------------------------------------------------


async def test_the_rate_limit_spaces_requests(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    """50 requests/s with a burst of 10: 30 concurrent deletes take at least 0.4 s."""
    route = delete_route(csp).respond(204)
    client = make_client(limiter=AsyncLimiter(10, 0.2))
    loop = asyncio.get_running_loop()

    started = loop.time()
    await asyncio.gather(*(client.delete_account(account(i)["id"]) for i in range(30)))
    elapsed = loop.time() - started

    assert route.call_count == 30
    assert elapsed >= 0.35


def test_a_rate_below_one_per_second_still_admits_one_request() -> None:
    limiter = rate_limiter(0.5)
    assert (limiter.max_rate, limiter.time_period) == (1, 2.0)


async def test_each_request_logs_one_csp_request_line(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    account_id = account(1)["id"]
    delete_route(csp).mock(side_effect=[httpx.Response(503), httpx.Response(204)])

    with capture_logs() as logs:
        await make_client().delete_account(account_id)

    lines = [e for e in logs if e["event"] == "csp_request"]
    assert [(e["outcome"], e["status_code"], e["attempt"]) for e in lines] == [
        ("server_error", 503, 1),
        ("ok", 204, 2),
    ]
    for line in lines:
        assert line["action"] == "delete_account"
        assert line["sandbox_id"] == account_id
        assert isinstance(line["latency_ms"], float)


async def test_the_token_never_appears_in_logs_errors_or_reprs(
    csp: respx.MockRouter, make_client: MakeClient
) -> None:
    csp.get("/current_user/accounts").mock(
        side_effect=[
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),  # third attempt: gives up
            httpx.Response(401, json={"detail": f"bad token {TOKEN}"}),
            httpx.Response(200, content=f'{{"results": [{{"id": "{TOKEN}!"}}]}}'.encode()),
        ]
    )
    client = make_client()
    errors: list[BaseException] = []

    with capture_logs() as logs:
        for _ in range(3):
            try:
                await client.list_accounts()
            except Exception as exc:  # collected for inspection below
                errors.append(exc)
        for _ in range(5):  # trip the breaker: circuit-open errors and logs too
            csp.get("/current_user/accounts").respond(503)
            try:
                await client.list_accounts()
            except Exception as exc:
                errors.append(exc)

    assert [type(e) for e in errors[:3]] == [
        CspUnavailableError,
        CspResponseError,
        CspResponseError,
    ]
    assert any(getattr(e, "circuit_open", False) for e in errors)
    texts = [repr(logs), repr(client)]
    for exc in errors:
        chain: BaseException | None = exc
        while chain is not None:
            texts += [str(chain), repr(chain), repr(chain.args)]
            chain = chain.__cause__ or chain.__context__
    leaks = [text for text in texts if TOKEN in text]
    assert not leaks
    assert all("Token " not in text for text in texts)


async def test_from_settings_takes_token_url_rate_and_breaker_from_settings(
    csp: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    settings = ConsumerSettings(
        csp_base_url=BASE + "/",
        csp_token=SecretStr(TOKEN),
        csp_rate_per_s=5,
        csp_page_size=50,
        csp_breaker_failures=2,
    )
    route = csp.get("/current_user/accounts").mock(side_effect=paginated([account(1)]))

    registry = CollectorRegistry()
    client = CspClient.from_settings(settings, http=http, registry=registry)
    await client.list_accounts()

    request = route.calls[0].request
    assert request.headers["Authorization"] == f"Token {TOKEN}"
    assert request.url.params["page_size"] == "50"
    assert client._limiter.max_rate == 5
    assert client._breaker.failure_threshold == 2
    assert requests_total(registry, "list_accounts", "ok") == 1


def test_from_settings_without_a_token_says_which_setting_is_missing(
    http: httpx.AsyncClient,
) -> None:
    with pytest.raises(ValueError, match="BROKER_CSP_TOKEN"):
        CspClient.from_settings(ConsumerSettings(), http=http)
