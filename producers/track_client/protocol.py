"""The track client's protocol, without I/O: generators that yield "send this request" or
"sleep this long" and return the outcome; the clients only drive them."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from producers.track_client.errors import (
    GatewayError,
    GatewayUnreachableError,
    RequestFailedError,
    RequestTimeoutError,
    TrackClientError,
    retry_after_of,
)
from schemas.replies import Accepted, Reply, ReplyStatus

#: First poll after this long, then doubling up to POLL_MAX_S (CONTRACT.md).
POLL_FIRST_S: Final = 0.1
POLL_MAX_S: Final = 1.0
#: Answers worth waiting out: nothing was done, and asking again later is the remedy.
RETRYABLE: Final = frozenset({429, 503})
USER_AGENT: Final = "sandbox-broker-track-client/1"


def poll_delays() -> Iterator[float]:
    """The pauses before each poll of a reply: POLL_FIRST_S, doubling up to POLL_MAX_S,
    then POLL_MAX_S for ever (a Retry-After on 429/503 replaces one pause). The Terraform
    sizes API Gateway's limits on this schedule (tests/infra/test_event_throttling.py)."""
    delay = POLL_FIRST_S
    while True:
        yield delay
        delay = min(delay * 2, POLL_MAX_S)


T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = httpx.Request | Sleep
Flow = Generator[Step, httpx.Response, T]


@dataclass(frozen=True)
class Requests:
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
            return parse_body(Accepted, body_of(response), what="202 body")
        if response.status_code not in RETRYABLE:
            raise GatewayError.from_response(response)
        wait = retry_after_of(response) or delay
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
    delays = poll_delays()
    unreachable: httpx.TransportError | None = None
    yield Sleep(min(next(delays), max(0.0, deadline - clock())))
    while True:
        retry_after: int | None = None
        try:
            response = yield build(deadline - clock())
        except httpx.TransportError as exc:  # a GET is safe to repeat: keep polling
            unreachable = exc
        else:
            unreachable = None
            if response.status_code == 200:
                reply = parse_body(Reply, body_of(response), what="reply")
                if reply.terminal:
                    return reply
            elif response.status_code in RETRYABLE:
                retry_after = retry_after_of(response)
            else:
                raise GatewayError.from_response(response)
        remaining = deadline - clock()
        if remaining <= 0:
            if unreachable is not None:
                raise GatewayUnreachableError(
                    f"gateway unreachable: {type(unreachable).__name__}"
                ) from unreachable
            raise RequestTimeoutError(request_id, timeout)
        delay = next(delays)
        yield Sleep(min(retry_after or delay, remaining))


def status_flow(build: Callable[[float], httpx.Request]) -> Flow[Reply]:
    """One read of a reply, pending or not."""
    try:
        response = yield build(float("inf"))
    except httpx.TransportError as exc:
        raise GatewayUnreachableError(f"gateway unreachable: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise GatewayError.from_response(response)
    return parse_body(Reply, body_of(response), what="reply")


def succeeded_result(reply: Reply) -> dict[str, Any]:
    if reply.status is ReplyStatus.FAILED:
        raise RequestFailedError.from_reply(reply)
    return reply.result or {}


def parse_body(model: type[M], data: Any, *, what: str) -> M:
    """A gateway answer as a model; anything else is the gateway's fault, said in one line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise TrackClientError(f"unexpected {what} from the gateway") from exc


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
