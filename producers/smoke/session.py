"""The plumbing every smoke check shares: requests within the run's deadline (a 429 waited
out), the conformance every answer must show (status, error body, security headers), one
result per check, and the contract's enqueue-then-poll exchange."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import httpx

from producers.smoke.model import Outcome, Result, SmokeOptions, SmokeReport, SmokeUnreachableError
from producers.track_client.protocol import poll_delays

REQUEST_TIMEOUT_S: Final = 10.0
#: Security headers every answer carries (CONTRACT.md), HSTS when served over HTTPS.
SECURITY_HEADERS: Final = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


class Deviation(Exception):
    """One check's answer broke the contract (message: what)."""


class Skipped(Exception):
    """A check found it does not apply here (message: why)."""


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or set(body) != {"error"}:
        return None
    error = body["error"]
    if not isinstance(error, dict) or set(error) != {"code", "message"}:
        return None
    return error["code"] if isinstance(error["code"], str) else None


class Session:
    """One run's client, options, report and clock."""

    def __init__(self, client: httpx.AsyncClient, options: SmokeOptions) -> None:
        self.client = client
        self.o = options
        self.https = options.url.lower().startswith("https://")
        self.report = SmokeReport(url=options.url)
        self.started = time.monotonic()

    def remaining(self) -> float:
        return self.o.deadline_s - (time.monotonic() - self.started)

    def headers(
        self, *, track: str | None = None, token: str | None = "", **extra: str
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        token = self.o.token if token == "" else token
        if token is not None:
            out["Authorization"] = f"Bearer {token}"
        if track is not None:
            out["X-Instruqt-Sandbox-ID"] = track
        if self.o.origin:
            out["Origin"] = self.o.origin
        out.update(extra)
        return out

    async def send(
        self, method: str, path: str, headers: dict[str, str], **kw: Any
    ) -> httpx.Response:
        """One request; a 429 is waited out (Retry-After) while the deadline allows."""
        while True:
            if self.remaining() <= 0:
                raise Deviation(f"the run's {self.o.deadline_s:.0f} s ran out")
            try:
                response = await self.client.request(
                    method,
                    path,
                    headers=headers,
                    timeout=min(REQUEST_TIMEOUT_S, self.remaining()),
                    **kw,
                )
            except httpx.TransportError as exc:
                raise SmokeUnreachableError(f"{method} {path}: {type(exc).__name__}") from exc
            if response.status_code != 429:
                return response
            wait = float(response.headers.get("retry-after", "1") or 1)
            if wait >= self.remaining():
                return response
            await asyncio.sleep(wait)

    def conforms(self, response: httpx.Response, status: int, code: str | None = None) -> None:
        """Status, the error body of a non-2xx, and the security headers."""
        problems = []
        if response.status_code != status:
            problems.append(f"status {response.status_code}, expected {status}")
        if response.status_code >= 400:
            got = _error_code(response)
            if got is None:
                problems.append('not the contract error body {"error": {"code", "message"}}')
            elif code is not None and got != code:
                problems.append(f"code {got}, expected {code}")
        for name, value in SECURITY_HEADERS.items():
            if response.headers.get(name) != value:
                problems.append(f"{name}: {response.headers.get(name)!r}")
        if self.https and "strict-transport-security" not in response.headers:
            problems.append("no Strict-Transport-Security over https")
        if problems:
            raise Deviation("; ".join(problems))

    async def check(self, name: str, route: str, body: Callable[[], Awaitable[str | None]]) -> bool:
        """Run one check; a deviation is recorded with its route, the run goes on."""
        try:
            detail = await body()
        except Deviation as exc:
            self.report.results.append(Result(name, route, Outcome.FAILED, str(exc)))
            return False
        except Skipped as exc:
            self.skip(name, route, str(exc))
            return False
        self.report.results.append(Result(name, route, Outcome.OK, detail or ""))
        return True

    def skip(self, name: str, route: str, why: str) -> None:
        self.report.results.append(Result(name, route, Outcome.SKIPPED, why))

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise Deviation("the body is not JSON") from None

    async def wait_reply(
        self, request_id: str, *, track: str | None, token: str | None = ""
    ) -> dict[str, Any]:
        """Poll on the track client's schedule until the reply is terminal."""
        deadline = time.monotonic() + min(self.o.reply_timeout_s, self.remaining())
        for pause in poll_delays():
            await asyncio.sleep(pause)
            response = await self.send(
                "GET", f"/v1/requests/{request_id}", self.headers(track=track, token=token)
            )
            self.conforms(response, 200)
            reply = self.json_of(response)
            if reply.get("status") in {"succeeded", "failed"}:
                return dict(reply)
            if "retry-after" not in response.headers:
                raise Deviation("a pending reply without Retry-After")
            if time.monotonic() + pause > deadline:
                raise Deviation(f"still pending after {self.o.reply_timeout_s:.0f} s")
        raise AssertionError("unreachable")  # pragma: no cover  (poll_delays never ends)

    async def enqueue(
        self, path: str, action: str, *, track: str, extra: dict[str, str] | None = None
    ) -> str:
        """POST that must be accepted: 202, the Accepted body, Location, Retry-After."""
        response = await self.send("POST", path, self.headers(track=track, **(extra or {})))
        self.conforms(response, 202)
        body = self.json_of(response)
        if set(body) != {"request_id", "action", "status", "poll"}:
            raise Deviation(f"202 body keys {sorted(body)}")
        if body["action"] != action or body["status"] != "pending":
            raise Deviation(f"202 body {body}")
        if body["poll"] != f"/v1/requests/{body['request_id']}":
            raise Deviation(f"poll {body['poll']!r}")
        if not response.headers.get("location", "").endswith(body["poll"]):
            raise Deviation(f"Location {response.headers.get('location')!r}")
        if "retry-after" not in response.headers:
            raise Deviation("no Retry-After on the 202")
        return str(body["request_id"])
