"""Track client: ask the gateway for a track's sandbox (or give it back) and wait for the reply.

Every call enqueues (``202``), then polls ``GET /v1/requests/{id}``: first after ~100 ms,
then doubling up to 1 s, as CONTRACT.md advises (the ``Retry-After: 1`` of 202 and pending
answers is meant for plain HTTP clients). A ``429`` or ``503`` is waited out, honouring its
``Retry-After``, until the call's overall timeout. The protocol is written once, as
generators that yield "send this request" or "sleep this long"; ``TrackClient`` (asyncio)
and ``SyncTrackClient`` only drive them.

TrackClientError                  everything this module raises
├── GatewayError                  a non-2xx answer: status_code, code, message, retry_after
├── GatewayUnreachableError       no HTTP answer at all (connection refused, reset, timed out)
├── RequestTimeoutError           no terminal reply within the timeout; carries request_id
└── RequestFailedError            a failed reply: reply, code, message, retry_after
    ├── NoSandboxesAvailableReplyError  NO_SANDBOXES_AVAILABLE (retry_after 30)
    ├── QuotaExceededReplyError         QUOTA_EXCEEDED (retry_after 30; v2)
    ├── LeaseLimitReachedReplyError     LEASE_LIMIT_REACHED (v2: extend past max_lease_s)
    ├── NotSandboxOwnerReplyError       NOT_SANDBOX_OWNER
    ├── SandboxNotFoundReplyError       SANDBOX_NOT_FOUND
    ├── InvalidRequestReplyError        INVALID_REQUEST
    ├── DeadLetteredReplyError          DEAD_LETTERED (an operator may replay it)
    └── UpstreamUnavailableReplyError   UPSTREAM_UNAVAILABLE

The ``...ReplyError`` classes are what a caller sees of a failed reply; the consumers'
business outcomes with the same codes are ``schemas.errors`` (``...Error``).
"""

# The operations take ``timeout`` on purpose (ASYNC109): it is the protocol's deadline, which
# sizes each HTTP call and sleep and ends in a RequestTimeoutError naming the request, which
# a cancelling ``asyncio.timeout`` around the call could not do.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from schemas.errors import ErrorCode
from schemas.replies import Accepted, AllocateResult, ReleaseResult, Reply, ReplyStatus

#: First poll after this long, then doubling up to POLL_MAX_S (CONTRACT.md).
POLL_FIRST_S: Final = 0.1
POLL_MAX_S: Final = 1.0
#: Answers worth waiting out: nothing was done, and asking again later is the remedy.
RETRYABLE: Final = frozenset({429, 503})
USER_AGENT: Final = "sandbox-broker-track-client/1"

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


# errors -----------------------------------------------------------------------------------


class TrackClientError(Exception):
    """Base of everything the track client raises."""


class GatewayError(TrackClientError):
    """The gateway answered with an error body (or something that is not one)."""

    def __init__(
        self, status_code: int, code: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> GatewayError:
        code, message = f"HTTP_{response.status_code}", response.reason_phrase
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            pass
        return cls(response.status_code, code, message, retry_after=_retry_after(response))


class GatewayUnreachableError(TrackClientError):
    """No HTTP answer: the gateway is down, unreachable, or did not answer in time."""


class RequestTimeoutError(TrackClientError):
    """The request was accepted but no terminal reply came within the timeout."""

    def __init__(self, request_id: str, timeout: float) -> None:
        super().__init__(f"no reply to {request_id} within {timeout:g}s")
        self.request_id = request_id
        self.timeout = timeout


class RequestFailedError(TrackClientError):
    """The request ended in a failed reply; ``code`` is the reply's error code."""

    code: ClassVar[ErrorCode | None] = None

    def __init__(self, reply: Reply) -> None:
        error = reply.error
        message = error.message if error else "failed without an error"
        super().__init__(f"{error.code if error else 'FAILED'}: {message}")
        self.reply = reply
        self.request_id = reply.request_id
        self.message = message
        self.retry_after = error.retry_after if error else None
        self.error_code = error.code if error else None

    @classmethod
    def from_reply(cls, reply: Reply) -> RequestFailedError:
        code = reply.error.code if reply.error else None
        for sub in cls.__subclasses__():
            if sub.code is not None and sub.code == code:
                return sub(reply)
        return cls(reply)


class NoSandboxesAvailableReplyError(RequestFailedError):
    code = ErrorCode.NO_SANDBOXES_AVAILABLE


class QuotaExceededReplyError(RequestFailedError):
    code = ErrorCode.QUOTA_EXCEEDED


class LeaseLimitReachedReplyError(RequestFailedError):
    code = ErrorCode.LEASE_LIMIT_REACHED


class NotSandboxOwnerReplyError(RequestFailedError):
    code = ErrorCode.NOT_SANDBOX_OWNER


class SandboxNotFoundReplyError(RequestFailedError):
    code = ErrorCode.SANDBOX_NOT_FOUND


class InvalidRequestReplyError(RequestFailedError):
    code = ErrorCode.INVALID_REQUEST


class DeadLetteredReplyError(RequestFailedError):
    code = ErrorCode.DEAD_LETTERED


class UpstreamUnavailableReplyError(RequestFailedError):
    code = ErrorCode.UPSTREAM_UNAVAILABLE


# the protocol, without I/O ----------------------------------------------------------------


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = httpx.Request | Sleep
Flow = Generator[Step, httpx.Response, T]


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after", "")
    return int(value) if value.isascii() and value.isdigit() else None


@dataclass(frozen=True)
class _Requests:
    """Builds the gateway's requests; each carries a timeout no longer than what is left."""

    base_url: str
    token: str
    request_timeout: float

    def _headers(self, track_id: str | None, extra: dict[str, str | None]) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": USER_AGENT}
        if track_id is not None:
            headers["X-Instruqt-Sandbox-ID"] = track_id
        headers.update({k: v for k, v in extra.items() if v})
        return headers

    def build(
        self,
        method: str,
        path: str,
        *,
        track_id: str | None,
        remaining: float,
        extra: dict[str, str | None] | None = None,
    ) -> httpx.Request:
        timeout = httpx.Timeout(max(0.001, min(self.request_timeout, remaining)))
        return httpx.Request(
            method,
            self.base_url.rstrip("/") + path,
            headers=self._headers(track_id, extra or {}),
            extensions={"timeout": timeout.as_dict()},
        )


def submit_flow(
    build: Callable[[float], httpx.Request],
    *,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
) -> Flow[Accepted]:
    """POST until accepted; 429/503 are waited out (Retry-After) within ``timeout``."""
    deadline = clock() + timeout
    delay = POLL_FIRST_S
    while True:
        try:
            response = yield build(deadline - clock())
        except httpx.TransportError as exc:
            # Not retried: the gateway may have enqueued it before the connection broke.
            raise GatewayUnreachableError(f"gateway unreachable: {type(exc).__name__}") from exc
        if response.status_code == 202:
            return _parse(Accepted, _body(response), what="202 body")
        if response.status_code not in RETRYABLE:
            raise GatewayError.from_response(response)
        wait = _retry_after(response) or delay
        delay = min(delay * 2, POLL_MAX_S)
        remaining = deadline - clock()
        if remaining <= wait:
            raise GatewayError.from_response(response)
        yield Sleep(wait)


def wait_flow(
    build: Callable[[float], httpx.Request],
    request_id: str,
    *,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
) -> Flow[Reply]:
    """Poll the reply until it is terminal: ~100 ms, doubling to 1 s, Retry-After on 429/503."""
    deadline = clock() + timeout
    delay = POLL_FIRST_S
    unreachable: httpx.TransportError | None = None
    yield Sleep(min(delay, max(0.0, deadline - clock())))
    while True:
        retry_after: int | None = None
        try:
            response = yield build(deadline - clock())
        except httpx.TransportError as exc:  # a GET is safe to repeat: keep polling
            unreachable = exc
        else:
            unreachable = None
            if response.status_code == 200:
                reply = _parse(Reply, _body(response), what="reply")
                if reply.terminal:
                    return reply
            elif response.status_code in RETRYABLE:
                retry_after = _retry_after(response)
            else:
                raise GatewayError.from_response(response)
        remaining = deadline - clock()
        if remaining <= 0:
            if unreachable is not None:
                raise GatewayUnreachableError(
                    f"gateway unreachable: {type(unreachable).__name__}"
                ) from unreachable
            raise RequestTimeoutError(request_id, timeout)
        delay = min(delay * 2, POLL_MAX_S)
        yield Sleep(min(retry_after or delay, remaining))


def status_flow(build: Callable[[float], httpx.Request]) -> Flow[Reply]:
    """One read of a reply, pending or not."""
    try:
        response = yield build(float("inf"))
    except httpx.TransportError as exc:
        raise GatewayUnreachableError(f"gateway unreachable: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise GatewayError.from_response(response)
    return _parse(Reply, _body(response), what="reply")


def _succeeded(reply: Reply) -> dict[str, Any]:
    if reply.status is ReplyStatus.FAILED:
        raise RequestFailedError.from_reply(reply)
    return reply.result or {}


def _parse(model: type[M], data: Any, *, what: str) -> M:
    """A gateway answer as a model; anything else is the gateway's fault, said in one line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise TrackClientError(f"unexpected {what} from the gateway") from exc


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# the two drivers --------------------------------------------------------------------------


class _Calls:
    """What both clients share: the request builders for each call."""

    def __init__(self, base_url: str, token: str, *, timeout: float) -> None:
        self._requests = _Requests(base_url=base_url, token=token, request_timeout=timeout)

    def _allocate(
        self,
        track_id: str,
        *,
        track_name: str | None,
        name_prefix: str | None,
        idempotency_key: str | None,
    ) -> Callable[[float], httpx.Request]:
        extra = {
            "X-Instruqt-Track-ID": track_name,
            "X-Sandbox-Name-Prefix": name_prefix,
            "Idempotency-Key": idempotency_key,
        }
        return lambda left: self._requests.build(
            "POST", "/v1/allocate", track_id=track_id, remaining=left, extra=extra
        )

    def _release(self, track_id: str, sandbox_id: str) -> Callable[[float], httpx.Request]:
        path = f"/v1/sandboxes/{sandbox_id}/mark-for-deletion"
        return lambda left: self._requests.build("POST", path, track_id=track_id, remaining=left)

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
        timeout: float = 30.0,
    ) -> Accepted:
        """Enqueue an allocation; return the 202 (its ``request_id`` is what to wait for)."""
        build = self._allocate(
            track_id,
            track_name=track_name,
            name_prefix=name_prefix,
            idempotency_key=idempotency_key,
        )
        return await self._drive(submit_flow(build, timeout=timeout))

    async def submit_release(
        self, track_id: str, sandbox_id: str, *, timeout: float = 30.0
    ) -> Accepted:
        return await self._drive(submit_flow(self._release(track_id, sandbox_id), timeout=timeout))

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
        timeout: float = 30.0,
    ) -> AllocateResult:
        """The track's sandbox (the same one again when it already has one)."""
        started = time.monotonic()
        accepted = await self.submit_allocate(
            track_id,
            track_name=track_name,
            name_prefix=name_prefix,
            idempotency_key=idempotency_key,
            timeout=timeout,
        )
        left = timeout - (time.monotonic() - started)
        reply = await self.wait(accepted.request_id, track_id=track_id, timeout=left)
        return _parse(AllocateResult, _succeeded(reply), what="allocate result")

    async def release(
        self, track_id: str, sandbox_id: str, *, timeout: float = 30.0
    ) -> ReleaseResult:
        """Give the sandbox back (it becomes pending_deletion); idempotent."""
        started = time.monotonic()
        accepted = await self.submit_release(track_id, sandbox_id, timeout=timeout)
        left = timeout - (time.monotonic() - started)
        reply = await self.wait(accepted.request_id, track_id=track_id, timeout=left)
        return _parse(ReleaseResult, _succeeded(reply), what="release result")


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
        timeout: float = 30.0,
    ) -> Accepted:
        build = self._allocate(
            track_id,
            track_name=track_name,
            name_prefix=name_prefix,
            idempotency_key=idempotency_key,
        )
        return self._drive(submit_flow(build, timeout=timeout))

    def submit_release(self, track_id: str, sandbox_id: str, *, timeout: float = 30.0) -> Accepted:
        return self._drive(submit_flow(self._release(track_id, sandbox_id), timeout=timeout))

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
        timeout: float = 30.0,
    ) -> AllocateResult:
        started = time.monotonic()
        accepted = self.submit_allocate(
            track_id,
            track_name=track_name,
            name_prefix=name_prefix,
            idempotency_key=idempotency_key,
            timeout=timeout,
        )
        left = timeout - (time.monotonic() - started)
        reply = self.wait(accepted.request_id, track_id=track_id, timeout=left)
        return _parse(AllocateResult, _succeeded(reply), what="allocate result")

    def release(self, track_id: str, sandbox_id: str, *, timeout: float = 30.0) -> ReleaseResult:
        started = time.monotonic()
        accepted = self.submit_release(track_id, sandbox_id, timeout=timeout)
        left = timeout - (time.monotonic() - started)
        reply = self.wait(accepted.request_id, track_id=track_id, timeout=left)
        return _parse(ReleaseResult, _succeeded(reply), what="release result")
