"""The CSP (cloud service portal) API client: list accounts, delete one.

(Over 400 lines: one client whose four layers, listed below, are read top to bottom;
decoding its answers is ``decode.py``.)

Every HTTP request goes through, outermost first:

1. the circuit breaker (``breaker.py``): while open, calls fail fast with
   ``CspUnavailableError(circuit_open=True)`` and no request is made. It judges whole
   calls (one page, one delete) after their retries, so a 10 % error rate that retries
   absorb does not open it; a CSP that keeps failing opens it after five calls in 60 s.
   The half-open probe is a single attempt, not a retried call.
2. retries with exponential backoff and jitter (stamina) on transport errors, timeouts,
   408, 429 and 5xx. ``Retry-After`` (seconds or an HTTP date) on any of them replaces
   the backoff; one longer than ``retry_after_max_s`` is not waited for in place but
   handed to the caller on the error, so a job can come back later (``nack(delay)``).
3. a client-side rate limit (aiolimiter), so a 16-way cleanup fan-out cannot flood it.
4. the HTTP request with its own timeout.

The token is sent as ``Authorization: Token ...`` and nowhere else: it is never logged, and
no error message carries it or a response body (pydantic errors would quote the body, so
they are summarised). Pagination links are followed only on the CSP's own origin, so a
forged ``next`` cannot make us send the token to another host.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

import httpx
import stamina
import structlog
from aiolimiter import AsyncLimiter
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumers.csp.breaker import CircuitBreaker, CircuitOpenError, CircuitState
from consumers.csp.decode import decode_delete, decode_page, parse_retry_after
from consumers.csp.errors import CspResponseError, CspUnavailableError
from consumers.csp.metrics import CspMetrics
from consumers.csp.models import ACCOUNT_ID_PATTERN, CspAccount, DeleteOutcome
from schemas.settings import ConsumerSettings

T = TypeVar("T")

LIST_ACCOUNTS: Final = "list_accounts"
DELETE_ACCOUNT: Final = "delete_account"

#: Statuses worth another attempt: the CSP is overloaded, restarting, or throttling us.
RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
#: A listing whose total changes between pages may have skipped an account (offset pages
#: shift under a concurrent delete), and sync would then mark a live account stale. Start
#: over this many times, then give up with an error (sync then changes nothing).
MAX_LISTING_RESTARTS: Final = 3
#: Guard against a CSP whose ``next`` links never end (10,000 pages of 100 = 1M accounts).
MAX_PAGES: Final = 10_000

_ACCOUNT_ID_RE: Final = re.compile(ACCOUNT_ID_PATTERN)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How one call is retried; backoff n = min(wait_max, wait_initial * 2**(n-1) + jitter)."""

    attempts: int = 3
    timeout_s: float = 30.0  # budget for all attempts of one call
    wait_initial_s: float = 0.2
    wait_max_s: float = 5.0
    wait_jitter_s: float = 0.5
    retry_after_max_s: float = 30.0


class _TransientError(Exception):
    """One failed attempt that another attempt may fix (internal; never escapes)."""

    def __init__(
        self,
        reason: str,
        *,
        attempt: int,
        last: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempt = attempt
        self.last = last
        self.status_code = status_code
        self.retry_after = retry_after


def csp_http_client(settings: ConsumerSettings) -> httpx.AsyncClient:
    """The HTTP client a consumer process opens once and hands to ``CspClient``.

    Redirects are not followed: a redirect elsewhere would carry the token with it.
    """
    return httpx.AsyncClient(
        timeout=settings.csp_timeout_s,
        follow_redirects=False,
        headers={"User-Agent": "sandbox-broker"},
    )


def rate_limiter(rate_per_s: float) -> AsyncLimiter:
    """``rate_per_s`` requests a second, bursts up to one second's worth (at least one)."""
    if rate_per_s >= 1:
        return AsyncLimiter(rate_per_s, 1.0)
    return AsyncLimiter(1, 1.0 / rate_per_s)


class CspClient:
    """List and delete CSP accounts, with retries, a circuit breaker and a rate limit."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        token: SecretStr,
        limiter: AsyncLimiter,
        breaker: CircuitBreaker,
        timeout_s: float = 10.0,
        page_size: int = 100,
        retry: RetryPolicy | None = None,
        metrics: CspMetrics | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._origin = _origin(httpx.URL(self._base))
        self._token = token
        self._limiter = limiter
        self._breaker = breaker
        self._timeout = httpx.Timeout(timeout_s)
        self._page_size = page_size
        self._retry = retry or RetryPolicy()
        self._metrics = metrics or CspMetrics(CollectorRegistry())
        self._metrics.watch(breaker)
        self._log = structlog.get_logger(__name__)

    @classmethod
    def from_settings(
        cls,
        settings: ConsumerSettings,
        *,
        http: httpx.AsyncClient,
        registry: CollectorRegistry | None = None,
    ) -> CspClient:
        """The process's client; its metrics go on ``registry`` (the one served at /metrics)."""
        if settings.csp_token is None:
            raise ValueError("BROKER_CSP_TOKEN is not set: the CSP client cannot authenticate")
        return cls(
            http,
            base_url=settings.csp_base_url,
            token=settings.csp_token,
            limiter=rate_limiter(settings.csp_rate_per_s),
            breaker=CircuitBreaker(
                failure_threshold=settings.csp_breaker_failures,
                window_s=settings.csp_breaker_window_s,
                cooldown_s=settings.csp_breaker_cooldown_s,
            ),
            timeout_s=settings.csp_timeout_s,
            page_size=settings.csp_page_size,
            retry=RetryPolicy(
                attempts=settings.csp_retry_attempts,
                retry_after_max_s=settings.csp_retry_after_max_s,
            ),
            metrics=CspMetrics(registry) if registry is not None else None,
        )

    def __repr__(self) -> str:
        return f"CspClient(base_url={self._base!r}, circuit={self.circuit_state.name})"

    @property
    def circuit_state(self) -> CircuitState:
        return self._breaker.state

    # -- operations -------------------------------------------------------------------------

    async def list_accounts(self) -> list[CspAccount]:
        """Every account the CSP lists, all pages; an empty list when it lists none.

        Raises ``CspUnavailableError`` or ``CspResponseError``; never returns a partial list.
        """
        for _ in range(MAX_LISTING_RESTARTS + 1):
            accounts = await self._list_once()
            if accounts is not None:
                return accounts
        raise CspResponseError(
            "list_accounts: the account list kept changing while it was paged through"
        )

    async def delete_account(self, account_id: str) -> DeleteOutcome:
        """Delete one account; 200/204 is ``DELETED``, 404 ``ALREADY_GONE`` (both: it is gone)."""
        if not _ACCOUNT_ID_RE.fullmatch(account_id):
            raise ValueError(f"not a CSP account id: {account_id[:64]!r}")
        url = httpx.URL(f"{self._base}/sandbox/accounts/{account_id}")
        return await self._call(DELETE_ACCOUNT, "DELETE", url, decode_delete, sandbox_id=account_id)

    async def _list_once(self) -> list[CspAccount] | None:
        """One pass over the pages; None when the total changed midway (start over)."""
        url: httpx.URL | None = httpx.URL(
            f"{self._base}/current_user/accounts", params={"page_size": self._page_size}
        )
        seen: set[str] = set()
        accounts: dict[str, CspAccount] = {}
        first_count: int | None = None
        while url is not None:
            if str(url) in seen or len(seen) >= MAX_PAGES:
                raise CspResponseError("list_accounts: the pagination links never end")
            seen.add(str(url))
            page = await self._call(LIST_ACCOUNTS, "GET", url, decode_page)
            if len(seen) == 1:
                first_count = page.count
            elif page.count != first_count:
                self._log.warning(
                    "csp_listing_changed",
                    action=LIST_ACCOUNTS,
                    count_before=first_count,
                    count_now=page.count,
                )
                return None
            for account in page.results:
                accounts.setdefault(account.id, account)
            url = self._next_url(url, page.next)
        return list(accounts.values())

    def _next_url(self, current: httpx.URL, link: str | None) -> httpx.URL | None:
        if not link:
            return None
        url = current.join(link)
        if _origin(url) != self._origin:
            raise CspResponseError("list_accounts: a pagination link leaves the CSP's origin")
        return url

    # -- one call: breaker, then retries ------------------------------------------------------

    async def _call(
        self,
        action: str,
        method: str,
        url: httpx.URL,
        decode: Callable[[httpx.Response], T],
        *,
        sandbox_id: str | None = None,
    ) -> T:
        try:
            probe = self._breaker.admit()
        except CircuitOpenError as exc:
            self._metrics.requests_total.labels(operation=action, outcome="circuit_open").inc()
            self._log.warning(
                "csp_request",
                action=action,
                outcome="circuit_open",
                retry_after_s=round(exc.retry_after, 1),
                **_sandbox(sandbox_id),
            )
            raise CspUnavailableError(
                f"{action}: the CSP circuit is open", circuit_open=True, retry_after=exc.retry_after
            ) from None
        try:
            result = await self._with_retries(
                action, method, url, decode, attempts=1 if probe else None, sandbox_id=sandbox_id
            )
        except _TransientError as exc:
            self._breaker.record_failure(probe=probe)
            raise CspUnavailableError(
                f"{action}: {exc.reason} after {exc.attempt} attempt(s)",
                status_code=exc.status_code,
                retry_after=exc.retry_after,
            ) from exc
        except CspResponseError:
            self._breaker.record_success(probe=probe)  # it answered: it is up
            raise
        except BaseException:
            self._breaker.release(probe=probe)
            raise
        self._breaker.record_success(probe=probe)
        return result

    async def _with_retries(
        self,
        action: str,
        method: str,
        url: httpx.URL,
        decode: Callable[[httpx.Response], T],
        *,
        attempts: int | None,
        sandbox_id: str | None,
    ) -> T:
        policy = self._retry
        attempts = attempts or policy.attempts
        async for attempt in stamina.retry_context(
            on=self._backoff,
            attempts=attempts,
            timeout=policy.timeout_s,
            wait_initial=policy.wait_initial_s,
            wait_max=policy.wait_max_s,
            wait_jitter=policy.wait_jitter_s,
        ):
            with attempt:
                return await self._attempt(
                    action,
                    method,
                    url,
                    decode,
                    attempt=attempt.num,
                    last=attempt.num >= attempts,
                    sandbox_id=sandbox_id,
                )
        raise AssertionError("unreachable: stamina re-raises the last failure")

    def _backoff(self, exc: Exception) -> bool | float:
        """stamina's hook: retry or not, and ``Retry-After`` as the wait when the CSP sent one."""
        if not isinstance(exc, _TransientError) or exc.last:
            return False
        if exc.retry_after is not None and exc.retry_after > self._retry.retry_after_max_s:
            return False  # surfaced on the error instead of holding a worker that long
        self._log.info(
            "csp_retry_scheduled",
            attempt=exc.attempt,
            reason=exc.reason,
            status_code=exc.status_code,
            retry_after_s=exc.retry_after,
        )
        return True if exc.retry_after is None else exc.retry_after

    # -- one attempt: rate limit, request, classify ---------------------------------------------

    async def _attempt(
        self,
        action: str,
        method: str,
        url: httpx.URL,
        decode: Callable[[httpx.Response], T],
        *,
        attempt: int,
        last: bool,
        sandbox_id: str | None,
    ) -> T:
        async with self._limiter:
            started = time.perf_counter()
            status: int | None = None
            try:
                response = await self._http.request(
                    method, url, headers=self._auth_headers(), timeout=self._timeout
                )
            except httpx.TimeoutException as exc:
                outcome = "timeout"
                self._observe(action, outcome, started, attempt, status, sandbox_id)
                raise _TransientError("timed out", attempt=attempt, last=last) from exc
            except httpx.TransportError as exc:
                outcome = "transport_error"
                self._observe(action, outcome, started, attempt, status, sandbox_id)
                raise _TransientError(
                    f"unreachable ({type(exc).__name__})", attempt=attempt, last=last
                ) from exc
        status = response.status_code
        if status in RETRYABLE_STATUSES:
            outcome = "rate_limited" if status == 429 else "server_error"
            self._observe(action, outcome, started, attempt, status, sandbox_id)
            raise _TransientError(
                f"HTTP {status}",
                attempt=attempt,
                last=last,
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        try:
            result = decode(response)
        except CspResponseError:
            outcome = "malformed" if response.is_success else "rejected"
            self._observe(action, outcome, started, attempt, status, sandbox_id)
            raise
        outcome = "ok" if response.is_success else "not_found"
        self._observe(action, outcome, started, attempt, status, sandbox_id)
        return result

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": "Token " + self._token.get_secret_value()}

    def _observe(
        self,
        action: str,
        outcome: str,
        started: float,
        attempt: int,
        status: int | None,
        sandbox_id: str | None,
    ) -> None:
        elapsed = time.perf_counter() - started
        self._metrics.requests_total.labels(operation=action, outcome=outcome).inc()
        self._metrics.request_latency.labels(operation=action).observe(elapsed)
        emit = self._log.info if outcome in ("ok", "not_found") else self._log.warning
        emit(
            "csp_request",
            action=action,
            outcome=outcome,
            latency_ms=round(elapsed * 1000, 1),
            status_code=status,
            attempt=attempt,
            **_sandbox(sandbox_id),
        )


def _sandbox(sandbox_id: str | None) -> dict[str, str]:
    return {"sandbox_id": sandbox_id} if sandbox_id else {}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port
