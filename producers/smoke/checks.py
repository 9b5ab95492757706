"""The smoke checks: what a deployment must answer, per CONTRACT.md, in under a minute.

Every request is a real one against the URL given; the only state created is one
allocation for a track named ``smoke-<uuid>`` (extended by 60 s, v2), released before the
run ends (also when a check failed). Each check records ``ok``, ``failed`` (with what
deviated) or ``skipped`` (with why: no admin token, no origin, a route AWS does not
serve). Every answer checked also has its security headers checked, and every non-2xx
its error body (``session.py``).
"""

from __future__ import annotations

import time
import uuid
from typing import Final

import httpx

from producers.smoke.admin import admin_checks
from producers.smoke.cors import cors_checks
from producers.smoke.model import Outcome, Result, SmokeOptions, SmokeReport
from producers.smoke.session import REQUEST_TIMEOUT_S, Deviation, Session, Skipped

ALLOCATE_RESULT: Final = frozenset(
    {"sandbox_id", "name", "external_id", "allocated_at", "expires_at", "idempotent"}
)
SANDBOX_VIEW: Final = frozenset(
    {"sandbox_id", "name", "external_id", "status", "allocated_at", "expires_at"}
)


class Smoke:
    """The checks of one run, in order; ``run`` gives back what it took, whatever failed."""

    def __init__(self, client: httpx.AsyncClient, options: SmokeOptions) -> None:
        self.s = Session(client, options)
        self.o = options
        self.track = f"smoke-{uuid.uuid4().hex}"
        self.other_track = f"smoke-{uuid.uuid4().hex}"
        self.s.report.tracks += [self.track, self.other_track]
        self.sandbox_id: str | None = None
        self.allocated_at: float | None = None
        self.expires_at: float | None = None
        self.allocate_request: str | None = None
        self.released = False

    async def run(self) -> SmokeReport:
        try:
            await self._run()
        finally:
            await self._clean_up()
            self.s.report.elapsed_s = time.monotonic() - self.s.started
        return self.s.report

    async def _run(self) -> None:
        await self.s.check("health", "GET /healthz", self._health)
        await self.s.check("readiness", "GET /readyz", self._readiness)
        await self._errors()
        allocated = await self.s.check("allocate", "POST /v1/allocate", self._allocate)
        if allocated:
            await self.s.check("idempotent repeat", "POST /v1/allocate", self._repeat)
            await self.s.check("read own sandbox", "GET /v1/sandboxes/{sandbox_id}", self._read)
            await self.s.check(
                "another track's sandbox", "GET /v1/sandboxes/{sandbox_id}", self._other_sandbox
            )
            await self.s.check(
                "another track's reply", "GET /v1/requests/{request_id}", self._other_reply
            )
            await self.s.check("extend", "POST /v1/sandboxes/{sandbox_id}/extend", self._extend)
            await self.s.check(
                "out-of-range X-Extend-By-S",
                "POST /v1/sandboxes/{sandbox_id}/extend",
                self._bad_extend,
            )
        else:
            for name, route in (
                ("idempotent repeat", "POST /v1/allocate"),
                ("read own sandbox", "GET /v1/sandboxes/{sandbox_id}"),
                ("another track's sandbox", "GET /v1/sandboxes/{sandbox_id}"),
                ("another track's reply", "GET /v1/requests/{request_id}"),
                ("extend", "POST /v1/sandboxes/{sandbox_id}/extend"),
                ("out-of-range X-Extend-By-S", "POST /v1/sandboxes/{sandbox_id}/extend"),
            ):
                self.s.skip(name, route, "no sandbox was allocated")
        await self.s.check(
            "unknown reply is pending", "GET /v1/requests/{request_id}", self._unknown_reply
        )
        await cors_checks(self.s, track=self.track)
        await admin_checks(self.s, allocate_request=self.allocate_request)
        if allocated:
            await self.s.check(
                "release", "POST /v1/sandboxes/{sandbox_id}/mark-for-deletion", self._release
            )

    async def _health(self) -> str:
        response = await self.s.send("GET", "/healthz", self.s.headers(token=None))
        self.s.conforms(response, 200)
        if self.s.json_of(response) != {"status": "ok"}:
            raise Deviation(f"body {response.text[:200]!r}")
        return ""

    async def _readiness(self) -> str:
        response = await self.s.send("GET", "/readyz", self.s.headers(token=None))
        if response.status_code in {403, 404}:  # AWS: no gateway process to be ready
            raise Skipped(f"not served here ({response.status_code}: AWS has no gateway process)")
        if response.status_code == 503:
            self.s.conforms(response, 503, "QUEUE_UNAVAILABLE")
            raise Deviation(f"not ready: {response.json()['error']['message']}")
        self.s.conforms(response, 200)
        return "ready"

    async def _errors(self) -> None:
        async def missing_token() -> str:
            response = await self.s.send(
                "POST", "/v1/allocate", self.s.headers(track=self.track, token=None)
            )
            self.s.conforms(response, 401, "UNAUTHORIZED")
            if "bearer" not in response.headers.get("www-authenticate", "").lower():
                raise Deviation("no WWW-Authenticate: Bearer")
            return ""

        async def wrong_token() -> str:
            response = await self.s.send(
                "POST",
                "/v1/allocate",
                self.s.headers(track=self.track, token=f"smoke-wrong-{uuid.uuid4().hex}"),
            )
            self.s.conforms(response, 401, "UNAUTHORIZED")
            return ""

        async def track_on_admin() -> str:
            response = await self.s.send("GET", "/v1/admin/stats", self.s.headers())
            self.s.conforms(response, 403, "FORBIDDEN")
            return ""

        async def bad_header() -> str:
            response = await self.s.send("POST", "/v1/allocate", self.s.headers(track="smoke bad!"))
            self.s.conforms(response, 400, "INVALID_REQUEST")
            return ""

        async def no_track() -> str:
            response = await self.s.send("POST", "/v1/allocate", self.s.headers())
            self.s.conforms(response, 400, "INVALID_REQUEST")
            return ""

        async def unknown_route() -> str:
            response = await self.s.send(
                "GET", "/v1/smoke-no-such-route", self.s.headers(track=self.track)
            )
            self.s.conforms(response, 404, "NOT_FOUND")
            return ""

        async def wrong_method() -> str:
            response = await self.s.send("DELETE", "/v1/allocate", self.s.headers(track=self.track))
            self.s.conforms(response, 405, "METHOD_NOT_ALLOWED")
            return ""

        async def body_not_empty() -> str:
            response = await self.s.send(
                "POST",
                "/v1/allocate",
                self.s.headers(track=self.track, **{"Content-Type": "application/json"}),
                content=b'{"smoke": true}',
            )
            self.s.conforms(response, 400, "INVALID_REQUEST")
            return ""

        await self.s.check("missing token", "POST /v1/allocate", missing_token)
        await self.s.check("wrong token", "POST /v1/allocate", wrong_token)
        await self.s.check("track token on an admin route", "GET /v1/admin/stats", track_on_admin)
        await self.s.check("malformed track header", "POST /v1/allocate", bad_header)
        await self.s.check("no track header", "POST /v1/allocate", no_track)
        await self.s.check("a body other than {}", "POST /v1/allocate", body_not_empty)
        await self.s.check("unknown route", "GET /v1/smoke-no-such-route", unknown_route)
        await self.s.check("wrong method", "DELETE /v1/allocate", wrong_method)

    async def _allocate(self) -> str:
        request_id = await self.s.enqueue("/v1/allocate", "allocate", track=self.track)
        self.allocate_request = request_id
        reply = await self.s.wait_reply(request_id, track=self.track)
        if reply["status"] != "succeeded":
            error = reply.get("error") or {}
            raise Deviation(f"failed reply {error.get('code')}: {error.get('message')}")
        result = reply.get("result") or {}
        if set(result) != ALLOCATE_RESULT:
            raise Deviation(f"result keys {sorted(result)}")
        if result["idempotent"] is not False:
            raise Deviation("a first allocation answered idempotent")
        self.sandbox_id = str(result["sandbox_id"])
        self.allocated_at = result["allocated_at"]
        self.expires_at = result["expires_at"]
        return f"sandbox {self.sandbox_id}"

    async def _repeat(self) -> str:
        request_id = await self.s.enqueue("/v1/allocate", "allocate", track=self.track)
        reply = await self.s.wait_reply(request_id, track=self.track)
        result = reply.get("result") or {}
        if reply["status"] != "succeeded" or result.get("sandbox_id") != self.sandbox_id:
            raise Deviation(f"a repeat got {reply.get('status')} {result.get('sandbox_id')}")
        if result.get("idempotent") is not True or result.get("allocated_at") != self.allocated_at:
            raise Deviation("a repeat is not idempotent (idempotent: true, the same allocated_at)")
        return ""

    async def _read(self) -> str:
        response = await self.s.send(
            "GET", f"/v1/sandboxes/{self.sandbox_id}", self.s.headers(track=self.track)
        )
        self.s.conforms(response, 200)
        body = self.s.json_of(response)
        if set(body) != SANDBOX_VIEW:
            raise Deviation(f"keys {sorted(body)}")
        if body["sandbox_id"] != self.sandbox_id or body["status"] != "allocated":
            raise Deviation(f"{body['sandbox_id']} {body['status']}")
        return ""

    async def _other_sandbox(self) -> str:
        response = await self.s.send(
            "GET", f"/v1/sandboxes/{self.sandbox_id}", self.s.headers(track=self.other_track)
        )
        self.s.conforms(response, 404, "NOT_FOUND")
        return ""

    async def _other_reply(self) -> str:
        response = await self.s.send(
            "GET", f"/v1/requests/{self.allocate_request}", self.s.headers(track=self.other_track)
        )
        self.s.conforms(response, 404, "NOT_FOUND")
        return ""

    async def _unknown_reply(self) -> str:
        request_id = f"req_smoke{uuid.uuid4().hex}"
        response = await self.s.send(
            "GET", f"/v1/requests/{request_id}", self.s.headers(track=self.track)
        )
        self.s.conforms(response, 200)
        body = self.s.json_of(response)
        if body.get("status") != "pending" or body.get("request_id") != request_id:
            raise Deviation(f"body {body}")
        if "retry-after" not in response.headers:
            raise Deviation("a pending reply without Retry-After")
        return ""

    async def _extend(self) -> str:
        """v2: the owner extends by the minimum (60 s): expires_at moves on, never back."""
        request_id = await self.s.enqueue(
            f"/v1/sandboxes/{self.sandbox_id}/extend",
            "extend",
            track=self.track,
            extra={"X-Extend-By-S": "60"},
        )
        reply = await self.s.wait_reply(request_id, track=self.track)
        result = reply.get("result") or {}
        if reply["status"] != "succeeded":
            error = reply.get("error") or {}
            if error.get("code") == "LEASE_LIMIT_REACHED":  # max_lease_s == lab duration
                return "at max_lease_s already (LEASE_LIMIT_REACHED)"
            raise Deviation(f"failed reply {error.get('code')}: {error.get('message')}")
        if set(result) != {"sandbox_id", "expires_at", "idempotent"}:
            raise Deviation(f"result keys {sorted(result)}")
        if result["sandbox_id"] != self.sandbox_id or not (
            self.expires_at is not None and result["expires_at"] > self.expires_at
        ):
            raise Deviation(f"expires_at {self.expires_at} -> {result['expires_at']}")
        return f"expires_at +{result['expires_at'] - (self.expires_at or 0):.0f} s"

    async def _bad_extend(self) -> str:
        response = await self.s.send(
            "POST",
            f"/v1/sandboxes/{self.sandbox_id}/extend",
            self.s.headers(track=self.track, **{"X-Extend-By-S": "59"}),
        )
        self.s.conforms(response, 400, "INVALID_REQUEST")
        return ""

    async def _release(self) -> str:
        request_id = await self.s.enqueue(
            f"/v1/sandboxes/{self.sandbox_id}/mark-for-deletion", "release", track=self.track
        )
        reply = await self.s.wait_reply(request_id, track=self.track)
        result = reply.get("result") or {}
        if reply["status"] != "succeeded" or result != {
            "sandbox_id": self.sandbox_id,
            "status": "pending_deletion",
            "idempotent": False,
        }:
            raise Deviation(f"reply {reply.get('status')} {result or reply.get('error')}")
        self.released = True
        self.s.report.released.append(self.sandbox_id or "")
        return ""

    async def _clean_up(self) -> None:
        """Give back what the run took, whatever failed on the way."""
        if self.sandbox_id is None or self.released:
            return
        try:
            response = await self.s.client.post(
                f"/v1/sandboxes/{self.sandbox_id}/mark-for-deletion",
                headers=self.s.headers(track=self.track),
                timeout=REQUEST_TIMEOUT_S,
            )
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 202:
            self.s.report.released.append(self.sandbox_id)
            self.s.report.results.append(
                Result(
                    "clean up",
                    "POST /v1/sandboxes/{sandbox_id}/mark-for-deletion",
                    Outcome.OK,
                    f"released {self.sandbox_id}",
                )
            )
        else:
            status = response.status_code if response is not None else "unreachable"
            self.s.report.results.append(
                Result(
                    "clean up",
                    "POST /v1/sandboxes/{sandbox_id}/mark-for-deletion",
                    Outcome.FAILED,
                    f"could not release {self.sandbox_id} ({status})",
                )
            )


async def run_smoke(
    options: SmokeOptions, *, transport: httpx.AsyncBaseTransport | None = None
) -> SmokeReport:
    """Run every check against ``options.url``; SmokeUnreachableError if it does not answer."""
    async with httpx.AsyncClient(
        base_url=options.url.rstrip("/"),
        transport=transport,
        headers={"User-Agent": "sandbox-broker-smoke/1"},
        follow_redirects=False,
    ) as client:
        return await Smoke(client, options).run()
