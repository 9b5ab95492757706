"""Where requests go: the gateway (as tracks call it) or the requests queue itself.

Both count the calls they make, so a run can report client-side calls per request: through
the gateway each accepted POST is one SendMessage and each answered GET one GetItem (the
gateway makes exactly one AWS call per route); against the queue they are the calls made.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Final, Protocol

import httpx
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError
from ulid import ULID

from consumers.stores.clients import AwsEndpoint, aws_clients
from producers.enqueue import send
from producers.track_client import GatewayError, GatewayUnreachableError, TrackClient
from schemas.items import reply_from_item
from schemas.messages import AllocateMessage, ReleaseMessage, RequestMessage
from schemas.names import ResourceNames
from schemas.replies import Reply

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient

#: The embedded moto server's call counter (infra/embedded/moto.py CALLS_PATH). Spelled out
#: here because producers never import infra; any other endpoint answers 404 and the run
#: reports server-side calls as n/a.
EMBEDDED_CALLS_PATH: Final = "/_embedded/calls"
#: Throttling-type errors: back off and read again, as the gateway's 429/503 are.
RETRYABLE_AWS: Final = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
#: Dummy credentials for a loopback moto (it accepts any) when the environment has none.
LOCAL_CREDENTIALS: Final = {"aws_access_key_id": "loadgen", "aws_secret_access_key": "loadgen"}


class Backoff(Exception):
    """The target asked us to come back later (429, 503, throttling)."""

    def __init__(self, seconds: float | None) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class SubmitFailed(Exception):
    """The request was not accepted; ``code`` is its outcome (HTTP_429, UNREACHABLE, ...)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class LoadTarget(Protocol):
    calls: Counter[str]

    async def submit(
        self, *, action: str, track_id: str, sandbox_id: str | None, within_s: float
    ) -> str:
        """Send one request; its request_id. ``within_s`` bounds waiting out 429/503."""
        ...

    async def read(self, request_id: str, *, track_id: str) -> Reply | None: ...

    async def aclose(self) -> None: ...

    def loadgen_reads(self) -> int:
        """DynamoDB reads this target caused on the server (for the consumer-only figure)."""
        ...

    def client_calls(self) -> dict[str, int]:
        """Calls made, by name, for the report."""
        ...


class _CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, calls: Counter[str]) -> None:
        self._inner = inner
        self._calls = calls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError:
            self._calls[f"{request.method} unreachable"] += 1
            raise
        self._calls[f"{request.method} {response.status_code}"] += 1
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


#: Connections per httpcore pool in the load generator (see _ShardedTransport).
CONNECTIONS_PER_POOL: Final = 32


class _ShardedTransport(httpx.AsyncBaseTransport):
    """Several small connection pools in turn instead of one large one.

    httpcore's pool re-examines every connection (and, for each idle one, every connection
    again) whenever a request starts or ends: O(connections^2) per event. With the 1,000
    connections a burst holds, that made the load generator the busiest process of the
    burst benchmark — CPU taken from the stack it measures. Pools of a few dozen keep the
    same number of connections at a small cost per event.
    """

    def __init__(self, connections: int, per_pool: int = CONNECTIONS_PER_POOL) -> None:
        pools = max(1, -(-connections // per_pool))
        size = -(-connections // pools)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._pools = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(pools)]
        self._turn = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._turn = (self._turn + 1) % len(self._pools)
        return await self._pools[self._turn].handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class GatewayTarget:
    """Tracks through the gateway, with the project's own track client."""

    def __init__(self, url: str, token: str, *, connections: int, call_timeout_s: float) -> None:
        self.calls: Counter[str] = Counter()
        transport = _CountingTransport(_ShardedTransport(connections), self.calls)
        # Each HTTP call may take as long as the whole request: under a burst, waiting for a
        # pooled connection or for an overloaded gateway to accept is part of the latency
        # being measured, not a failure of the load generator.
        self._client = TrackClient(url, token, timeout=call_timeout_s, transport=transport)

    async def submit(
        self, *, action: str, track_id: str, sandbox_id: str | None, within_s: float
    ) -> str:
        try:
            if action == "allocate":
                accepted = await self._client.submit_allocate(track_id, timeout=within_s)
            else:
                assert sandbox_id is not None
                accepted = await self._client.submit_release(track_id, sandbox_id, timeout=within_s)
        except GatewayError as exc:
            raise SubmitFailed(f"HTTP_{exc.status_code}") from exc
        except GatewayUnreachableError as exc:
            raise SubmitFailed("UNREACHABLE") from exc
        return accepted.request_id

    async def read(self, request_id: str, *, track_id: str) -> Reply | None:
        try:
            reply = await self._client.status(request_id, track_id=track_id)
        except GatewayError as exc:
            if exc.status_code in {429, 503}:
                raise Backoff(exc.retry_after) from exc
            raise
        except GatewayUnreachableError as exc:  # a GET is safe to repeat
            raise Backoff(None) from exc
        return reply if reply.terminal else None

    def loadgen_reads(self) -> int:
        # Each GET the gateway answered 200 was one GetItem on the replies table.
        return self.calls["GET 200"]

    def client_calls(self) -> dict[str, int]:
        """HTTP calls by method and status, plus the AWS calls the gateway made for them."""
        out = dict(self.calls)
        out["SendMessage (via POST 202)"] = self.calls["POST 202"]
        out["GetItem (via GET 200)"] = self.calls["GET 200"]
        return out

    async def aclose(self) -> None:
        await self._client.aclose()


class QueueTarget:
    """Straight onto ``sandbox-requests.fifo`` and the replies table, as the gateway would."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        names: ResourceNames,
        connections: int,
        credentials: dict[str, str] | None = None,
    ) -> None:
        self.calls: Counter[str] = Counter()
        self._names = names
        self._config = AioConfig(
            retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=connections
        )
        self._where = AwsEndpoint(
            url=endpoint_url,
            region=region,
            access_key_id=(credentials or {}).get("aws_access_key_id"),
            secret_access_key=(credentials or {}).get("aws_secret_access_key"),
        )
        self._stack = AsyncExitStack()
        self._sqs: SQSClient | None = None
        self._ddb: DynamoDBClient | None = None
        self._queue_url = ""
        self._dlq_url = ""

    async def start(self) -> QueueTarget:
        aws = await self._stack.enter_async_context(aws_clients(self._where, self._config))
        self._sqs, self._ddb = aws.sqs, aws.ddb
        self._queue_url = (await self._sqs.get_queue_url(QueueName=self._names.requests_queue))[
            "QueueUrl"
        ]
        self._dlq_url = (await self._sqs.get_queue_url(QueueName=self._names.requests_dlq))[
            "QueueUrl"
        ]
        return self

    @property
    def sqs(self) -> SQSClient:
        if self._sqs is None:
            raise RuntimeError("QueueTarget.start() first")
        return self._sqs

    @property
    def ddb(self) -> DynamoDBClient:
        if self._ddb is None:
            raise RuntimeError("QueueTarget.start() first")
        return self._ddb

    async def submit(
        self, *, action: str, track_id: str, sandbox_id: str | None, within_s: float
    ) -> str:
        request_id = f"lg_{ULID()}"
        message: RequestMessage
        if action == "allocate":
            message = AllocateMessage(request_id=request_id, track_id=track_id)
        else:
            assert sandbox_id is not None
            message = ReleaseMessage(
                request_id=request_id, track_id=track_id, sandbox_id=sandbox_id
            )
        self.calls["SendMessage"] += 1
        try:
            await send(
                self.sqs,
                queue_url=self._queue_url,
                message=message,
                group_id=track_id,
                dedup_id=request_id,
            )
        except ClientError as exc:
            raise SubmitFailed(exc.response["Error"]["Code"]) from exc
        return request_id

    async def submit_poison(self, *, track_id: str, variant: int) -> str | None:
        """A malformed message in the track's group; its request_id when it carries one.

        Three kinds in turn: not JSON at all (no request_id: DLQ only), an unknown type, and
        an allocate without its track_id (both answered INVALID_REQUEST, then the DLQ).
        """
        request_id = f"lgp_{ULID()}"
        bodies: list[tuple[str, str | None]] = [
            ("{this is not json", None),
            (
                json.dumps(
                    {
                        "schema_version": 1,
                        "type": "teleport",
                        "request_id": request_id,
                        "track_id": track_id,
                    }
                ),
                request_id,
            ),
            (
                json.dumps({"schema_version": 1, "type": "allocate", "request_id": request_id}),
                request_id,
            ),
        ]
        body, answered = bodies[variant % len(bodies)]
        self.calls["SendMessage"] += 1
        await self.sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            MessageGroupId=track_id,
            MessageDeduplicationId=request_id,
        )
        return answered

    async def read(self, request_id: str, *, track_id: str) -> Reply | None:
        self.calls["GetItem"] += 1
        try:
            resp = await self.ddb.get_item(
                TableName=self._names.replies_table,
                Key={"request_id": {"S": request_id}},
                ConsistentRead=True,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in RETRYABLE_AWS:
                raise Backoff(None) from exc
            raise
        item = resp.get("Item")
        if not item:
            return None
        reply = reply_from_item(item).to_reply()
        return reply if reply.terminal else None

    async def dlq_depth(self) -> int:
        attrs = await self.sqs.get_queue_attributes(
            QueueUrl=self._dlq_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )
        values = attrs.get("Attributes", {})
        return int(values.get("ApproximateNumberOfMessages", 0)) + int(
            values.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    def loadgen_reads(self) -> int:
        return self.calls["GetItem"]

    def client_calls(self) -> dict[str, int]:
        return dict(self.calls)

    async def aclose(self) -> None:
        await self._stack.aclose()


async def embedded_calls(http: httpx.AsyncClient, endpoint_url: str | None) -> Counter[str] | None:
    """The embedded moto's per-action call counts, or None when the endpoint has no counter."""
    if not endpoint_url:
        return None
    try:
        resp = await http.get(endpoint_url.rstrip("/") + EMBEDDED_CALLS_PATH, timeout=5.0)
    except httpx.HTTPError:
        return None
    if resp.status_code != 200:
        return None
    try:
        data = resp.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return Counter({str(k): int(v) for k, v in data.items()})
