"""A fake CSP: a real HTTP server with the CSP's two endpoints, state, and fault injection.

(Over 400 lines: a whole fake service — state, HTTP app, runner, CLI — that tests read as one.)

Tests, benchmarks and the embedded stack talk to it over HTTP exactly as the consumer talks
to the real CSP, so the client's timeouts, retries and breaker are exercised for real.

CSP API (under ``/api``, the path ``csp_base_url`` ends with), ``Authorization: Token <t>``:
- ``GET /api/current_user/accounts?page=&page_size=`` — page-number pagination in Django
  REST framework's shape: ``{"count", "next", "previous", "results": [{"id", "name",
  "state", "sfdc_account_id", "created_at"}]}``; ``next`` is an absolute URL; a page past
  the end is 404 ``{"detail": "Invalid page."}``; ``page_size`` is clamped to 1..1000.
- ``DELETE /api/sandbox/accounts/{id}`` — 204, or 404 when there is no such account.
- A wrong or missing token is 401 ``{"detail": "Invalid token."}``.

Admin API (at the root, no auth: the fake listens on loopback), for another process to steer:
- ``GET /_fault``, ``POST /_fault`` with ``Faults`` as JSON: the body *replaces* the faults,
  so ``{}`` clears them all.
- ``GET /_stats`` (calls and statuses per endpoint, most requests in flight at once,
  accounts left, deleted), ``DELETE /_stats`` resets the counters.
- ``POST /_accounts`` ``{"n": 10, "prefix": "lab-aws"}`` adds accounts,
  ``DELETE /_accounts/{id}`` removes one without counting a CSP call (the CSP's pool
  changing under us).

Faults apply to the CSP API only, in this order: ``latency_ms`` (added before answering),
``down``, auth, ``fail_next`` (a deterministic burst: the next N calls fail), ``error_rate``
(each call fails with that probability), then ``empty`` (lists answer no accounts). Injected
failures answer ``status_code`` (503 unless set), with ``Retry-After`` when ``retry_after``
is set.

"Down" is a choice: over ASGI a refused connection cannot be faked per request, so
``down`` answers 503 to every CSP call (the server is up, the service is not) and can be
flipped from another process. For a real refused connection, ``stop()`` the server: it
keeps its port, and ``start()`` binds the same one again.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import string
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import typer
import uvicorn
from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PREFIXES: Final = ("lab-aws", "lab-azure", "lab-gcp")
API_PREFIX: Final = "/api"
MAX_PAGE_SIZE: Final = 1000
DEFAULT_PAGE_SIZE: Final = 100
LIST_ACCOUNTS: Final = "list_accounts"
DELETE_ACCOUNT: Final = "delete_account"
#: How long start() waits for uvicorn to bind before giving up.
START_TIMEOUT_S: Final = 10.0


class Faults(BaseModel):
    """What goes wrong, switchable at run time (``POST /_fault`` replaces all of it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(0, ge=0, le=120_000)
    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    status_code: int = Field(503, ge=400, le=599)
    retry_after: float | None = Field(None, ge=0)
    fail_next: int = Field(0, ge=0)
    down: bool = False
    empty: bool = False


class NewAccounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(1, ge=1, le=100_000)
    prefix: str | None = None
    state: str = "active"


@dataclass
class FakeAccount:
    id: str
    name: str
    state: str
    sfdc_account_id: str
    created_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "sfdc_account_id": self.sfdc_account_id,
            "created_at": self.created_at,
        }


class FakeCspState:
    """Accounts, faults and counters, shared by the server thread and the test's thread."""

    def __init__(self, *, prefixes: Sequence[str] = DEFAULT_PREFIXES, seed: int | None = None):
        if not prefixes:
            raise ValueError("at least one name prefix")
        self.prefixes = tuple(prefixes)
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - fake data and fault dice, not secrets
        self._accounts: dict[str, FakeAccount] = {}
        self._per_prefix: Counter[str] = Counter()
        self._faults = Faults()
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._calls: Counter[str] = Counter()
        self._statuses: dict[str, Counter[str]] = {}
        self._in_flight = 0
        self._max_in_flight = 0
        self._deleted = 0

    # -- accounts ---------------------------------------------------------------------------

    def add_accounts(
        self, n: int, *, prefix: str | None = None, state: str = "active"
    ) -> list[FakeAccount]:
        """Add ``n`` accounts; names rotate through the prefixes (``lab-aws-0001``, ...)."""
        added = []
        with self._lock:
            for i in range(n):
                p = prefix or self.prefixes[(len(self._accounts) + i) % len(self.prefixes)]
                self._per_prefix[p] += 1
                account = FakeAccount(
                    id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                    name=f"{p}-{self._per_prefix[p]:04d}",
                    state=state,
                    sfdc_account_id="001"
                    + "".join(self._rng.choices(string.ascii_letters + string.digits, k=15)),
                    created_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                )
                added.append(account)
            for account in added:
                self._accounts[account.id] = account
        return added

    def remove_account(self, account_id: str) -> bool:
        """The CSP dropped an account on its own (not a DELETE call)."""
        with self._lock:
            return self._accounts.pop(account_id, None) is not None

    def set_account_state(self, account_id: str, state: str) -> None:
        with self._lock:
            self._accounts[account_id].state = state

    def accounts(self) -> list[FakeAccount]:
        with self._lock:
            return list(self._accounts.values())

    def page(self, page: int, page_size: int) -> tuple[int, list[FakeAccount]] | None:
        """(count, results) of one page, or None when the page does not exist."""
        with self._lock:
            if self._faults.empty:
                return (0, []) if page == 1 else None
            items = list(self._accounts.values())
        start = (page - 1) * page_size
        if page < 1 or (start >= len(items) and page != 1):
            return None
        return len(items), items[start : start + page_size]

    def delete(self, account_id: str) -> bool:
        with self._lock:
            if self._accounts.pop(account_id, None) is None:
                return False
            self._deleted += 1
            return True

    # -- faults -----------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults

    def injected_failure(self) -> bool:
        """Roll the dice for one call (after ``down`` and auth): True means fail it."""
        with self._lock:
            f = self._faults
            if f.fail_next > 0:
                self._faults = f.model_copy(update={"fail_next": f.fail_next - 1})
                return True
            return f.error_rate > 0 and self._rng.random() < f.error_rate

    # -- counters ---------------------------------------------------------------------------

    def enter(self, endpoint: str) -> None:
        with self._lock:
            self._calls[endpoint] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def leave(self, endpoint: str, status: int) -> None:
        with self._lock:
            self._in_flight -= 1
            self._statuses.setdefault(endpoint, Counter())[str(status)] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": {e: self._calls[e] for e in (LIST_ACCOUNTS, DELETE_ACCOUNT)},
                "statuses": {e: dict(c) for e, c in self._statuses.items()},
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "accounts": len(self._accounts),
                "deleted": self._deleted,
            }

    def reset_stats(self) -> None:
        with self._lock:
            in_flight = self._in_flight
            self._reset_counters()
            self._in_flight = in_flight


def _detail(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def create_app(state: FakeCspState, *, token: str) -> FastAPI:
    """The ASGI app: the CSP API under ``/api`` and the admin API at the root."""
    app = FastAPI(title="Fake CSP", docs_url=None, redoc_url=None, openapi_url=None)
    api = APIRouter(prefix=API_PREFIX)
    expected = ("Token " + token).encode()

    async def guarded(
        endpoint: str, authorization: str | None, handle: Callable[[], Response]
    ) -> Response:
        state.enter(endpoint)
        response: Response | None = None
        try:
            faults = state.faults
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            if faults.down:
                response = _detail(503, "Service unavailable.")
            elif not secrets.compare_digest((authorization or "").encode(), expected):
                response = _detail(401, "Invalid token.", {"WWW-Authenticate": "Token"})
            elif state.injected_failure():
                f = state.faults
                headers = (
                    {"Retry-After": f"{f.retry_after:g}"} if f.retry_after is not None else None
                )
                response = _detail(f.status_code, "Injected fault.", headers)
            else:
                response = handle()
            return response
        finally:
            state.leave(endpoint, response.status_code if response is not None else 499)

    @api.get("/current_user/accounts")
    async def list_accounts(
        request: Request,
        page: Annotated[int, Query()] = 1,
        page_size: Annotated[int, Query()] = DEFAULT_PAGE_SIZE,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        size = min(max(page_size, 1), MAX_PAGE_SIZE)

        def handle() -> Response:
            found = state.page(page, size)
            if found is None:
                return _detail(404, "Invalid page.")
            count, results = found
            link = request.url.include_query_params
            return JSONResponse(
                {
                    "count": count,
                    "next": str(link(page=page + 1, page_size=size))
                    if page * size < count
                    else None,
                    "previous": str(link(page=page - 1, page_size=size)) if page > 1 else None,
                    "results": [a.as_json() for a in results],
                }
            )

        return await guarded(LIST_ACCOUNTS, authorization, handle)

    @api.delete("/sandbox/accounts/{account_id}")
    async def delete_account(
        account_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        def handle() -> Response:
            if state.delete(account_id):
                return Response(status_code=204)
            return _detail(404, "Not found.")

        return await guarded(DELETE_ACCOUNT, authorization, handle)

    app.include_router(api)

    @app.get("/_fault")
    async def get_fault() -> Faults:
        return state.faults

    @app.post("/_fault")
    async def post_fault(faults: Faults) -> Faults:
        state.set_faults(faults)
        return faults

    @app.get("/_stats")
    async def get_stats() -> dict[str, Any]:
        return state.stats()

    @app.delete("/_stats", status_code=204)
    async def delete_stats() -> None:
        state.reset_stats()

    @app.post("/_accounts")
    async def post_accounts(body: NewAccounts) -> dict[str, list[str]]:
        added = state.add_accounts(body.n, prefix=body.prefix, state=body.state)
        return {"added": [a.id for a in added]}

    @app.delete("/_accounts/{account_id}")
    async def delete_admin_account(account_id: str) -> Response:
        if state.remove_account(account_id):
            return Response(status_code=204)
        return _detail(404, "Not found.")

    return app


class FakeCsp:
    """The fake CSP served by uvicorn on a loopback port, in a daemon thread of this process.

    ``url`` is the base URL the client is configured with (``.../api``); ``admin_url`` the
    root where ``/_fault`` and ``/_stats`` live. Works as a context manager, sync or async.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str,
        accounts: int = 0,
        prefixes: Sequence[str] = DEFAULT_PREFIXES,
        seed: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.state = FakeCspState(prefixes=prefixes, seed=seed)
        self.state.add_accounts(accounts)
        self.app = create_app(self.state, token=token)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # no token
        return f"FakeCsp(host={self.host!r}, port={self.port}, running={self.running})"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def admin_url(self) -> str:
        if not self.port:
            raise RuntimeError("start() first: the port is chosen when the server binds")
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.admin_url + API_PREFIX

    def start(self) -> FakeCsp:
        if self.running:
            return self
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # A client that timed out leaves a slow handler behind; do not wait for it.
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="fake-csp", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"fake CSP did not start on {self.host}:{self.port}")
            time.sleep(0.005)  # polling uvicorn's started flag; it offers no event
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving: connections are refused until ``start()`` (same port)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)

    def __enter__(self) -> FakeCsp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeCsp:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # -- steering from Python (the admin HTTP API does the same from another process) ---------

    def set_faults(self, **faults: Any) -> Faults:
        """Replace the faults (unnamed ones are cleared): ``set_faults(down=True)``."""
        new = Faults(**faults)
        self.state.set_faults(new)
        return new

    def clear_faults(self) -> None:
        self.state.set_faults(Faults())

    def add_accounts(
        self, n: int, *, prefix: str | None = None, state: str = "active"
    ) -> list[FakeAccount]:
        return self.state.add_accounts(n, prefix=prefix, state=state)

    def remove_account(self, account_id: str) -> bool:
        return self.state.remove_account(account_id)

    def accounts(self) -> list[FakeAccount]:
        return self.state.accounts()

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def reset_stats(self) -> None:
        self.state.reset_stats()


# -- CLI: `sandbox-broker fake-csp --port 8002 --accounts 200` ------------------------------------

fake_csp_app = typer.Typer(
    help="Run the fake CSP (cloud service portal) for local stacks and benchmarks.",
    add_completion=False,
)


@fake_csp_app.callback(invoke_without_command=True)
def fake_csp_command(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (keep it loopback)."),
    port: int = typer.Option(8002, help="Port; BROKER_CSP_BASE_URL is http://HOST:PORT/api."),
    accounts: int = typer.Option(200, min=0, help="Accounts to seed."),
    prefix: list[str] = typer.Option(
        list(DEFAULT_PREFIXES), "--prefix", help="Name prefixes, rotated (repeatable)."
    ),
    token: str | None = typer.Option(
        None,
        envvar="BROKER_CSP_TOKEN",
        show_envvar=True,
        help="Token to accept; a random one is made and printed when unset.",
    ),
    seed: int | None = typer.Option(None, help="Seed for ids and fault dice (reproducible)."),
) -> None:
    """Serve the fake CSP in the foreground until Ctrl-C."""
    if token is None:
        token = secrets.token_urlsafe(24)
        typer.echo(f"export BROKER_CSP_TOKEN={token}", err=True)
    state = FakeCspState(prefixes=prefix, seed=seed)
    state.add_accounts(accounts)
    typer.echo(
        f"fake CSP: {accounts} accounts at http://{host}:{port}{API_PREFIX} "
        f"(faults: POST http://{host}:{port}/_fault, stats: GET /_stats)",
        err=True,
    )
    uvicorn.run(
        create_app(state, token=token),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
