"""Track client: ask the gateway for a track's sandbox (or give it back) and wait for the reply.

Every call enqueues (``202``), then polls ``GET /v1/requests/{id}``: first after ~100 ms,
then doubling up to 1 s, as CONTRACT.md advises (the ``Retry-After: 1`` of 202 and pending
answers is meant for plain HTTP clients). A ``429`` or ``503`` is waited out, honouring its
``Retry-After``, until the call's overall timeout. The protocol is written once, as
generators that yield "send this request" or "sleep this long"; ``TrackClient`` (asyncio)
and ``SyncTrackClient`` only drive them.

(Over 400 lines: the async and the sync client side by side, each call once per driver.)
"""

# The operations take ``timeout`` on purpose (ASYNC109): it is the protocol's deadline, which
# sizes each HTTP call and sleep and ends in a RequestTimeoutError naming the request, which
# a cancelling ``asyncio.timeout`` around the call could not do.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import httpx

from producers.track_client.errors import (
    DeadLetteredReplyError,
    GatewayError,
    GatewayUnreachableError,
    InvalidRequestReplyError,
    LeaseLimitReachedReplyError,
    NoSandboxesAvailableReplyError,
    NotSandboxOwnerReplyError,
    QuotaExceededReplyError,
    RequestFailedError,
    RequestTimeoutError,
    SandboxNotFoundReplyError,
    TrackClientError,
    UpstreamUnavailableReplyError,
)
from producers.track_client.protocol import (
    Flow,
    Requests,
    Sleep,
    parse_body,
    status_flow,
    submit_flow,
    succeeded_result,
    wait_flow,
)
from schemas.replies import Accepted, AllocateResult, ExtendResult, ReleaseResult, Reply

__all__ = [
    "WAIT_MARGIN_S",
    "DeadLetteredReplyError",
    "GatewayError",
    "GatewayUnreachableError",
    "InvalidRequestReplyError",
    "LeaseLimitReachedReplyError",
    "NoSandboxesAvailableReplyError",
    "NotSandboxOwnerReplyError",
    "QuotaExceededReplyError",
    "RequestFailedError",
    "RequestTimeoutError",
    "SandboxNotFoundReplyError",
    "Sleep",
    "SyncTrackClient",
    "TrackClient",
    "TrackClientError",
    "UpstreamUnavailableReplyError",
    "status_flow",
    "submit_flow",
    "wait_flow",
]

T = TypeVar("T")

# the two drivers --------------------------------------------------------------------------


class _Calls:
    """What both clients share: the request builders for each call."""

    def __init__(self, base_url: str, token: str, *, timeout: float) -> None:
        self._requests = Requests(base_url=base_url, token=token, request_timeout=timeout)

    def _allocate(
        self,
        track_id: str,
        *,
        track_name: str | None,
        name_prefix: str | None,
        idempotency_key: str | None,
        wait_for_sandbox_s: int | None = None,
    ) -> Callable[[float], httpx.Request]:
        extra = {
            "X-Instruqt-Track-ID": track_name,
            "X-Sandbox-Name-Prefix": name_prefix,
            "Idempotency-Key": idempotency_key,
            "X-Wait-For-Sandbox-S": None if wait_for_sandbox_s is None else str(wait_for_sandbox_s),
        }
        return lambda left: self._requests.build(
            "POST", "/v1/allocate", track_id=track_id, remaining=left, extra=extra
        )

    def _release(self, track_id: str, sandbox_id: str) -> Callable[[float], httpx.Request]:
        path = f"/v1/sandboxes/{sandbox_id}/mark-for-deletion"
        return lambda left: self._requests.build("POST", path, track_id=track_id, remaining=left)

    def _extend(
        self, track_id: str, sandbox_id: str, extend_by_s: int | None
    ) -> Callable[[float], httpx.Request]:
        path = f"/v1/sandboxes/{sandbox_id}/extend"
        extra = {"X-Extend-By-S": None if extend_by_s is None else str(extend_by_s)}
        return lambda left: self._requests.build(
            "POST", path, track_id=track_id, remaining=left, extra=extra
        )

    def _reply(self, request_id: str, track_id: str | None) -> Callable[[float], httpx.Request]:
        path = f"/v1/requests/{request_id}"
        return lambda left: self._requests.build("GET", path, track_id=track_id, remaining=left)


class TrackClient(_Calls):
    """Async client: ``async with TrackClient(url, token) as c: await c.allocate("track-1")``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``timeout`` bounds each HTTP call; each operation takes its own overall timeout."""
        super().__init__(base_url, token, timeout=timeout)
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)

    @classmethod
    def sync(
        cls,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> SyncTrackClient:
        return SyncTrackClient(base_url, token, timeout=timeout, transport=transport)

    async def __aenter__(self) -> TrackClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _drive(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    step = next(flow)
                    continue
                try:
                    response = await self._http.send(step)
                except httpx.TransportError as exc:
                    step = flow.throw(exc)
                else:
                    step = flow.send(response)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def submit_allocate(
        self,
        track_id: str,
        *,
        track_name: str | None = None,
        name_prefix: str | None = None,
        idempotency_key: str | None = None,
        wait_for_sandbox_s: int | None = None,
        timeout: float = 30.0,
    ) -> Accepted:
        """Enqueue an allocation; return the 202 (its ``request_id`` is what to wait for)."""
        build = self._allocate(
            track_id,
            track_name=track_name,
            name_prefix=name_prefix,
            idempotency_key=idempotency_key,
            wait_for_sandbox_s=wait_for_sandbox_s,
        )
        return await self._drive(submit_flow(build, timeout=timeout))

    async def submit_release(
        self, track_id: str, sandbox_id: str, *, timeout: float = 30.0
    ) -> Accepted:
        return await self._drive(submit_flow(self._release(track_id, sandbox_id), timeout=timeout))

    async def submit_extend(
        self,
        track_id: str,
        sandbox_id: str,
        *,
        extend_by_s: int | None = None,
        timeout: float = 30.0,
    ) -> Accepted:
        build = self._extend(track_id, sandbox_id, extend_by_s)
        return await self._drive(submit_flow(build, timeout=timeout))

    async def wait(self, request_id: str, *, track_id: str | None, timeout: float = 30.0) -> Reply:
        """Poll until the reply is terminal and return it (a failed one too)."""
        build = self._reply(request_id, track_id)
        return await self._drive(wait_flow(build, request_id, timeout=timeout))

    async def status(self, request_id: str, *, track_id: str | None = None) -> Reply:
        """Read a reply once; ``track_id`` is needed with the track token."""
        return await self._drive(status_flow(self._reply(request_id, track_id)))

    async def allocate(
        self,
        track_id: str,
        *,
        track_name: str | None = None,
        name_prefix: str | None = None,
        idempotency_key: str | None = None,
        wait_for_sandbox_s: int | None = None,
        timeout: float = 30.0,
    ) -> AllocateResult:
        """The track's sandbox (the same one again when it already has one).

        With ``wait_for_sandbox_s`` (v2, 0-900) the request waits that long for a sandbox
        when none is available; the call then waits at least that long plus 30 s.
        """
        timeout = _waiting_timeout(timeout, wait_for_sandbox_s)
        started = time.monotonic()
        accepted = await self.submit_allocate(
            track_id,
            track_name=track_name,
            name_prefix=name_prefix,
            idempotency_key=idempotency_key,
            wait_for_sandbox_s=wait_for_sandbox_s,
            timeout=timeout,
        )
        left = timeout - (time.monotonic() - started)
        reply = await self.wait(accepted.request_id, track_id=track_id, timeout=left)
        return parse_body(AllocateResult, succeeded_result(reply), what="allocate result")

    async def release(
        self, track_id: str, sandbox_id: str, *, timeout: float = 30.0
    ) -> ReleaseResult:
        """Give the sandbox back (it becomes pending_deletion); idempotent."""
        started = time.monotonic()
        accepted = await self.submit_release(track_id, sandbox_id, timeout=timeout)
        left = timeout - (time.monotonic() - started)
        reply = await self.wait(accepted.request_id, track_id=track_id, timeout=left)
        return parse_body(ReleaseResult, succeeded_result(reply), what="release result")

    async def extend(
        self,
        track_id: str,
        sandbox_id: str,
        *,
        extend_by_s: int | None = None,
        timeout: float = 30.0,
    ) -> ExtendResult:
        """Extend the lease (v2) by ``extend_by_s`` (60-86400; None: the deployment's
        ``extension_s``), never past ``allocated_at + max_lease_s``."""
        started = time.monotonic()
        accepted = await self.submit_extend(
            track_id, sandbox_id, extend_by_s=extend_by_s, timeout=timeout
        )
        left = timeout - (time.monotonic() - started)
        reply = await self.wait(accepted.request_id, track_id=track_id, timeout=left)
        return parse_body(ExtendResult, succeeded_result(reply), what="extend result")


class SyncTrackClient(_Calls):
    """The same calls for scripts without an event loop: ``with SyncTrackClient(...) as c:``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, token, timeout=timeout)
        self._http = httpx.Client(transport=transport, timeout=timeout)

    def __enter__(self) -> SyncTrackClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _drive(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    step = next(flow)
                    continue
                try:
                    response = self._http.send(step)
                except httpx.TransportError as exc:
                    step = flow.throw(exc)
                else:
                    step = flow.send(response)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def submit_allocate(
        self,
        track_id: str,
        *,
        track_name: str | None = None,
        name_prefix: str | None = None,
        idempotency_key: str | None = None,
        wait_for_sandbox_s: int | None = None,
        timeout: float = 30.0,
    ) -> Accepted:
        build = self._allocate(
            track_id,
            track_name=track_name,
            name_prefix=name_prefix,
            idempotency_key=idempotency_key,
            wait_for_sandbox_s=wait_for_sandbox_s,
        )
        return self._drive(submit_flow(build, timeout=timeout))

    def submit_release(self, track_id: str, sandbox_id: str, *, timeout: float = 30.0) -> Accepted:
        return self._drive(submit_flow(self._release(track_id, sandbox_id), timeout=timeout))

    def submit_extend(
        self,
        track_id: str,
        sandbox_id: str,
        *,
        extend_by_s: int | None = None,
        timeout: float = 30.0,
    ) -> Accepted:
        build = self._extend(track_id, sandbox_id, extend_by_s)
        return self._drive(submit_flow(build, timeout=timeout))

    def wait(self, request_id: str, *, track_id: str | None, timeout: float = 30.0) -> Reply:
        build = self._reply(request_id, track_id)
        return self._drive(wait_flow(build, request_id, timeout=timeout))

    def status(self, request_id: str, *, track_id: str | None = None) -> Reply:
        return self._drive(status_flow(self._reply(request_id, track_id)))

    def allocate(
        self,
        track_id: str,
        *,
        track_name: str | None = None,
        name_prefix: str | None = None,
        idempotency_key: str | None = None,
        wait_for_sandbox_s: int | None = None,
        timeout: float = 30.0,
    ) -> AllocateResult:
        timeout = _waiting_timeout(timeout, wait_for_sandbox_s)
        started = time.monotonic()
        accepted = self.submit_allocate(
            track_id,
            track_name=track_name,
            name_prefix=name_prefix,
            idempotency_key=idempotency_key,
            wait_for_sandbox_s=wait_for_sandbox_s,
            timeout=timeout,
        )
        left = timeout - (time.monotonic() - started)
        reply = self.wait(accepted.request_id, track_id=track_id, timeout=left)
        return parse_body(AllocateResult, succeeded_result(reply), what="allocate result")

    def release(self, track_id: str, sandbox_id: str, *, timeout: float = 30.0) -> ReleaseResult:
        started = time.monotonic()
        accepted = self.submit_release(track_id, sandbox_id, timeout=timeout)
        left = timeout - (time.monotonic() - started)
        reply = self.wait(accepted.request_id, track_id=track_id, timeout=left)
        return parse_body(ReleaseResult, succeeded_result(reply), what="release result")

    def extend(
        self,
        track_id: str,
        sandbox_id: str,
        *,
        extend_by_s: int | None = None,
        timeout: float = 30.0,
    ) -> ExtendResult:
        started = time.monotonic()
        accepted = self.submit_extend(
            track_id, sandbox_id, extend_by_s=extend_by_s, timeout=timeout
        )
        left = timeout - (time.monotonic() - started)
        reply = self.wait(accepted.request_id, track_id=track_id, timeout=left)
        return parse_body(ExtendResult, succeeded_result(reply), what="extend result")


#: What a waiting allocation's call allows beyond the wait itself (enqueue, claim, poll).
WAIT_MARGIN_S = 30.0


def _waiting_timeout(timeout: float, wait_for_sandbox_s: int | None) -> float:
    return max(timeout, (wait_for_sandbox_s or 0) + WAIT_MARGIN_S)
