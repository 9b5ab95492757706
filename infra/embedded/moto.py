"""The embedded AWS: moto in server mode on loopback, with patches that make it honest and fast.

(Over 400 lines: every patch of moto 5.2.5's internals in one file, so an upgrade of the
exact pin reviews one place.)

1. DynamoDB requests are serialised by one lock. moto's threaded server is not thread-safe
   for DynamoDB: two concurrent conditional ``TransactWriteItems`` on one item can both
   succeed (real DynamoDB never lets that happen) or fail with a 500 ("dictionary changed
   size during iteration").
   Its SQS is not thread-safe either: concurrent ReceiveMessage calls on one FIFO queue
   fail with a 500 ("Set changed size during iteration" in ``pending_message_groups``) —
   seen here as hundreds of failed receives in a 200-track burst. So SQS requests take a
   lock per queue. A lock must never be held across a long poll, so ReceiveMessage is run
   with ``WaitTimeSeconds=0`` under the lock and the wait happens here, outside it: the
   call is retried whenever a send or visibility change may have made a message
   receivable (a condition variable), and at least every ``LONG_POLL_RECHECK_S`` (for
   visibility timeouts and delays that lapse on their own), until the caller's wait ends.
2. moto's ``TransactWriteItems`` deep-copies every table it touches before it starts, as its
   rollback backup: O(table) per transaction. A claim touches the pool and the replies
   table, so each one got slower as replies piled up (3 s per claim in a 200-track
   burst; a claim is ~5 ms with the fix). With DynamoDB serialised, backing up only the
   items the transaction touches and restoring them on failure is the same rollback —
   the table's stream included: what a cancelled transaction wrote, and its undoing, are
   cut from the stream again (v2 history and events read it).
3. moto's SQS checks every queued message's visibility through datetime arithmetic on every
   call (1.8 s per SendMessageBatch at 1,000 queued FIFO messages). Pointing
   ``moto.sqs.models.unix_time_millis`` at ``time.time() * 1000`` computes the same number
   about 40x cheaper. This touches moto internals, hence the exact pin in pyproject.toml.
4. moto's SQS builds a queue's whole attribute dict — including the three approximate
   message counts, each a pass over every message in the queue — wherever it reads a
   single attribute: four times per SendMessage (to check ContentBasedDeduplication) and
   three times per message received (MessageRetentionPeriod): O(queued) per call, under
   the queue's lock, so a burst went quadratic (while a FIFO queue filled to 1,000
   messages a send cost 7 ms and a receive of ten 51 ms on average; 1.6 and 4 ms with
   patches 4-7). The counts are now computed only when GetQueueAttributes asks for them.
5. moto turns every DynamoDB result into JSON through its generic, shape-driven serializer,
   which walks each attribute of each item against the botocore model: most of the CPU
   of a Query page (a 100-item page of an 800-item pool cost 74 ms, 23 ms without it,
   the DynamoDB lock held all along).
   For the data-plane calls the result moto builds is already the wire document (items
   in AttributeValue form, binary values as bytes), so it is dumped as JSON directly
   (bytes in base64, as on the wire); anything else (errors, control-plane calls, a
   result json cannot dump) still takes moto's path.
6. moto's dispatcher works out which service a request is for on every request, listing
   its service modules on disk (about a millisecond); for the two JSON APIs used here the
   answer is fixed by the ``X-Amz-Target`` prefix, so it is remembered.
7. werkzeug's development server closes the connection after every response, so every
   AWS call paid a TCP connect, a fresh server thread and the client's connection set-up
   (a tenth of the gateway's CPU in a burst). ``KeepAliveRequestHandler`` answers with a
   Content-Length and keeps HTTP/1.1 connections open, as AWS does.
"""

from __future__ import annotations

import base64
import copy
import functools
import io
import json
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Final

import moto
import moto.core.responses as moto_responses
import moto.dynamodb.models as ddb_models
import moto.dynamodb.responses as ddb_responses
import moto.sqs.models as sqs_models
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

MOTO_VERSION = "5.2.5"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _fast_unix_time_millis(dt: Any = None) -> float:
    if dt is not None:  # keep moto's behaviour for explicit datetimes
        return float(moto.core.utils.unix_time_millis(dt))
    return time.time() * 1000.0


def _visible(message: Any) -> bool:
    return bool(_fast_unix_time_millis() >= message.visible_at)


def patch_sqs_clock() -> None:
    """Make moto's SQS visibility checks cheap and exact.

    Cheap: the same number without datetime arithmetic. Exact: moto tests ``now >
    visible_at``, so a message released with ChangeMessageVisibility 0 in the same
    millisecond still counts as in flight and its FIFO group as pending; the next receive
    can then deliver the group's later messages first — an order violation AWS never
    commits (seen about once in ten list-then-replay runs of the DLQ tools). ``>=`` makes
    "visible now" mean visible now.
    """
    if moto.__version__ != MOTO_VERSION:  # pragma: no cover - guarded by the pin
        raise RuntimeError(f"embedded moto patches expect moto {MOTO_VERSION}")
    sqs_models.unix_time_millis = _fast_unix_time_millis  # type: ignore[attr-defined]
    sqs_models.Message.visible = property(_visible)  # type: ignore[method-assign, assignment]


#: Queue attributes that cost a pass over the queue's messages, and their Queue properties.
_MESSAGE_COUNTS = {
    "ApproximateNumberOfMessages": "approximate_number_of_messages",
    "ApproximateNumberOfMessagesDelayed": "approximate_number_of_messages_delayed",
    "ApproximateNumberOfMessagesNotVisible": "approximate_number_of_messages_not_visible",
}
_moto_get_queue_attributes = sqs_models.SQSBackend.get_queue_attributes


@functools.cache
def _attribute_property(name: str) -> str:
    return str(moto.core.utils.camelcase_to_underscores(name))  # a regex: worth a cache


def _queue_attributes(self: Any) -> dict[str, Any]:
    """moto's ``Queue.attributes`` without the message counts (see the module docstring, 4)."""
    names = [n for n in self.BASE_ATTRIBUTES if n not in _MESSAGE_COUNTS]
    if self.fifo_queue:
        names += self.FIFO_ATTRIBUTES
    if self.kms_master_key_id:
        names += self.KMS_ATTRIBUTES
    result = {n: getattr(self, _attribute_property(n)) for n in names}
    if self.policy:
        result["Policy"] = self.policy
    if self.redrive_policy:
        result["RedrivePolicy"] = json.dumps(self.redrive_policy)
    return {k: str(v).lower() if isinstance(v, bool) else v for k, v in result.items()}


def _get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> Any:
    """moto's GetQueueAttributes; the message counts computed here, only when asked for."""
    attributes = _moto_get_queue_attributes(self, queue_name, attribute_names)
    wanted = _MESSAGE_COUNTS if "All" in attribute_names else attribute_names
    counts = [n for n in wanted if n in _MESSAGE_COUNTS]
    if counts:
        queue = self.get_queue(queue_name)
        attributes = dict(attributes)
        for name in counts:
            attributes[name] = getattr(queue, _MESSAGE_COUNTS[name])
    return attributes


def patch_sqs_attributes() -> None:
    """Message counts only where asked for (see the module docstring, 4)."""
    sqs_models.Queue.attributes = property(_queue_attributes)  # type: ignore[method-assign, assignment]
    sqs_models.SQSBackend.get_queue_attributes = _get_queue_attributes  # type: ignore[method-assign]


def patch_dynamodb_transactions() -> None:
    """Back up only the items a transaction touches (see the module docstring, 2)."""
    ddb_models.copy = _TablesAreNotCopied()  # type: ignore[attr-defined, assignment]
    ddb_models.DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


#: DynamoDB calls whose moto result is already the response document (see 5 above).
_DIRECT_JSON_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
_moto_execute_result = moto_responses.ActionResult.execute_result
#: Result wrappers whose ``result`` is the response document (DynamoResult has turned moto's
#: DynamoType values into {type: value} dicts, binary values into bytes).
_PLAIN_RESULTS = (moto_responses.ActionResult, ddb_responses.DynamoResult)


def _attribute_value(value: Any) -> Any:
    """Binary attribute values (moto holds them as bytes) as the wire has them: base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


def _execute_result(self: Any, context: Any) -> Any:
    """moto's ActionResult.execute_result, with DynamoDB data-plane results dumped directly."""
    if (
        type(self) in _PLAIN_RESULTS
        and isinstance(self.result, dict)
        and context.operation_model.name in _DIRECT_JSON_OPERATIONS
        and context.service_model.service_name == "dynamodb"
    ):
        members = context.operation_model.output_shape.members
        # moto adds a few keys the API does not have (DeleteItem's ConsumedCapacityUnits);
        # its serializer leaves them out, and so does this
        document = {k: v for k, v in self.result.items() if k in members and v is not None}
        try:
            body = json.dumps(document, default=_attribute_value)
        except (TypeError, ValueError):
            pass  # something json cannot dump: moto's serializer knows the shape
        else:
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
    return _moto_execute_result(self, context)


@functools.cache
def _method_names(clazz: object) -> frozenset[str]:
    return frozenset(moto.core.utils.method_names_from_class(clazz))


def patch_dynamodb_responses() -> None:
    """Dump DynamoDB data-plane results as JSON directly (see the module docstring, 5).

    Also remember each response class's method names: moto lists them with
    ``inspect.getmembers`` on every call to check that the action exists.
    """
    moto_responses.ActionResult.execute_result = _execute_result  # type: ignore[method-assign]
    moto_responses.method_names_from_class = _method_names  # type: ignore[attr-defined, assignment]


#: Path of the call counter the embedded server adds beside moto's own API (GET, DELETE).
CALLS_PATH = "/_embedded/calls"
#: Fault injection for chaos runs: POST {"dynamodb_throttle_rate": 0.1} (0 clears it), and
#: service latency: {"latency": "aws"} (or {"latency": {"AmazonSQS.SendMessage": 10}}, or
#: null: off). A POST changes the faults it names (one naming neither clears the throttle).
FAULTS_PATH = "/_embedded/faults"
_THROTTLE_BODY = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "Rate of requests exceeds the allowed throughput (injected by the embedded "
        "server's fault knob).",
    }
).encode()


#: AWS-like service latency per action, in ms, for ``{"latency": "aws"}`` on the faults
#: endpoint: in-region medians as published and commonly measured (DynamoDB: single-digit
#: ms for item reads and writes, about twice that for transactions; SQS: ~10 ms per call),
#: round trip included. Injected before the call, outside every lock, so concurrent calls
#: overlap as they do on AWS. Off (0) unless asked for.
AWS_LATENCY_MS: Final[dict[str, float]] = {
    "DynamoDB_20120810.GetItem": 4.0,
    "DynamoDB_20120810.PutItem": 6.0,
    "DynamoDB_20120810.UpdateItem": 6.0,
    "DynamoDB_20120810.DeleteItem": 6.0,
    "DynamoDB_20120810.Query": 8.0,
    "DynamoDB_20120810.TransactWriteItems": 12.0,
    "DynamoDB_20120810.BatchWriteItem": 10.0,
    "AmazonSQS.SendMessage": 10.0,
    "AmazonSQS.SendMessageBatch": 12.0,
    "AmazonSQS.ReceiveMessage": 10.0,
    "AmazonSQS.DeleteMessageBatch": 10.0,
    "AmazonSQS.DeleteMessage": 8.0,
    "AmazonSQS.ChangeMessageVisibility": 8.0,
    "AmazonSQS.ChangeMessageVisibilityBatch": 10.0,
}

#: While emulating a long poll, look again at least this often (lapsed visibility, delays).
LONG_POLL_RECHECK_S = 0.25
#: SQS actions after which a waiting receive may find something.
_SQS_WAKERS = frozenset(
    {
        "AmazonSQS.SendMessage",
        "AmazonSQS.SendMessageBatch",
        "AmazonSQS.ChangeMessageVisibility",
        "AmazonSQS.ChangeMessageVisibilityBatch",
        "AmazonSQS.DeleteMessage",  # a FIFO group's next message becomes receivable
        "AmazonSQS.DeleteMessageBatch",
    }
)


#: X-Amz-Target prefixes whose moto backend app is looked up once (module docstring, 6).
_FIXED_TARGETS = frozenset({"DynamoDB_20120810", "AmazonSQS"})


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler with HTTP/1.1 keep-alive (see the module docstring, 7).

    The request body is read in full before the app runs, so the next request on the
    connection starts where it should whatever the app read; the response goes out in one
    write with a Content-Length (two small writes would meet Nagle's algorithm and the
    peer's delayed ACK: 40 ms a call).
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None and self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # chunked upload: werkzeug's way, then close
            super().run_wsgi()
            return
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self.rfile.read(int(length or 0))
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        status, headers, payload = self._respond(environ)
        code, _, reason = status.partition(" ")
        self.send_response_only(int(code), reason)
        for name, value in headers:
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(payload)
        self.flush_headers()

    def _respond(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        seen: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, headers
            return chunks.append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            return seen["status"], seen["headers"], b"".join(chunks)
        except Exception:
            self.close_connection = True
            self.server.log("error", "Error on request:\n%s", traceback.format_exc())
            return "500 Internal Server Error", [("Content-Type", "text/plain")], b"error"


class CachedDispatch:
    """moto's DomainDispatcherApplication, remembering the app behind a fixed target prefix."""

    def __init__(self, dispatcher: DomainDispatcherApplication) -> None:
        self._dispatcher = dispatcher
        self._apps: dict[str, WSGIApp] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        prefix = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0]
        if prefix not in _FIXED_TARGETS:
            return self._dispatcher(environ, start_response)
        app = self._apps.get(prefix)
        if app is None:
            app = self._apps[prefix] = self._dispatcher.get_application(environ)
        return app(environ, start_response)


class _TablesAreNotCopied:
    """Stands in for ``copy`` inside moto's DynamoDB backend: tables are not deep-copied.

    The only table deep-copy there is transact_write_items' rollback backup, which
    ``_transact_write_items`` below replaces with a backup of the touched items.
    """

    def deepcopy(self, obj: Any, memo: Any = None) -> Any:
        if isinstance(obj, ddb_models.Table):  # type: ignore[attr-defined]
            return obj
        return copy.deepcopy(obj, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


_moto_transact_write_items = ddb_models.DynamoDBBackend.transact_write_items


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's transaction with an item-level rollback instead of whole-table copies."""
    backups: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        try:
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            current = self.get_item(op["TableName"], key)
        except Exception:  # noqa: S112 - moto reports a malformed entry itself, below
            continue
        backups.append((op["TableName"], key, current.to_json()["Attributes"] if current else None))
    # A stream must not show what a cancelled transaction did, nor its undoing (moto's own
    # whole-table copy restores the stream with the table): remember where each stream was.
    streams = {
        name: (shard, len(shard.items))
        for name in {b[0] for b in backups}
        if (shard := getattr(self.tables.get(name), "stream_shard", None)) is not None
    }
    try:
        _moto_transact_write_items(self, transact_items)
    except Exception:
        for table_name, key, attributes in reversed(backups):
            if attributes is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attributes)
        for shard, length in streams.values():
            del shard.items[length:]
        raise


class SerialisingMiddleware:
    """WSGI middleware: one DynamoDB request at a time, one SQS request at a time.

    It also counts calls per API action (``X-Amz-Target``, e.g. ``DynamoDB_20120810.Query``,
    ``AmazonSQS.ReceiveMessage``), served as JSON at ``/_embedded/calls`` so benchmarks can
    report server-side calls per request.
    """

    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._conditions: dict[str, threading.Condition] = {}
        self._conditions_lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self.dynamodb_throttle_rate = 0.0
        #: Injected latency per X-Amz-Target, in ms (faults endpoint; empty: none).
        self.latency_ms: dict[str, float] = {}
        self._rng = random.Random()  # noqa: S311 - fault injection, not security

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO")
        if path == CALLS_PATH:
            return self._calls(environ, start_response)
        if path == FAULTS_PATH:
            return self._faults(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            with self._counts_lock:
                self._counts[target] += 1
            delay = self.latency_ms.get(target)
            if delay:
                time.sleep(delay / 1000)  # this request's thread only: calls still overlap
        if target.startswith("AmazonSQS."):
            return self._sqs_call(target, environ, start_response)
        if not target.startswith("DynamoDB"):
            return self._app(environ, start_response)
        if self.dynamodb_throttle_rate and self._rng.random() < self.dynamodb_throttle_rate:
            start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0")])
            return [_THROTTLE_BODY]
        with self._lock:
            return _call(self._app, environ, start_response)

    def _queue_condition(self, queue_url: str) -> threading.Condition:
        with self._conditions_lock:
            cond = self._conditions.get(queue_url)
            if cond is None:
                cond = self._conditions[queue_url] = threading.Condition()
            return cond

    def _sqs_call(
        self, target: str, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        # One lock per queue: moto's races are within a queue (its FIFO group bookkeeping),
        # and a send must not wait behind receives on other queues. Calls that name no
        # queue (CreateQueue, ListQueues, ...) share one lock of their own.
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            request = {}
        cond = self._queue_condition(str(request.get("QueueUrl", "")))
        if target != "AmazonSQS.ReceiveMessage":
            with cond:
                status, headers, body = _capture(self._app, environ, raw)
                if target in _SQS_WAKERS:
                    cond.notify_all()
            start_response(status, headers)
            return [body]
        wait_s = float(request.get("WaitTimeSeconds", 0) or 0)
        request["WaitTimeSeconds"] = 0
        once = json.dumps(request).encode()
        deadline = time.monotonic() + wait_s
        with cond:
            while True:
                status, headers, body = _capture(self._app, environ, once)
                left = deadline - time.monotonic()
                if left <= 0 or not status.startswith("200") or _has_messages(body):
                    break
                # Condition.wait releases the lock while waiting: other calls go on.
                cond.wait(timeout=min(left, LONG_POLL_RECHECK_S))
        start_response(status, headers)
        return [body]

    def _faults(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            wanted = json.loads(environ["wsgi.input"].read(length) or b"{}")
            if "dynamodb_throttle_rate" in wanted or "latency" not in wanted:
                self.dynamodb_throttle_rate = float(wanted.get("dynamodb_throttle_rate", 0.0))
            if "latency" in wanted:  # "aws" (AWS_LATENCY_MS), {target: ms}, or null: off
                latency = wanted["latency"] or {}
                self.latency_ms = dict(AWS_LATENCY_MS) if latency == "aws" else dict(latency)
        start_response("200 OK", [("Content-Type", "application/json")])
        state = {"dynamodb_throttle_rate": self.dynamodb_throttle_rate, "latency": self.latency_ms}
        return [json.dumps(state).encode()]

    def _calls(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._counts_lock:
            body = json.dumps(dict(self._counts)).encode()
            if environ.get("REQUEST_METHOD") == "DELETE":
                self._counts.clear()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]


def _call(app: WSGIApp, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    # Materialise the body inside the lock: moto builds it lazily from live state.
    return list(app(environ, start_response))


def _capture(app: WSGIApp, environ: dict[str, Any], data: bytes) -> tuple[str, list[Any], bytes]:
    """Run one request with the given body; return status, headers and body."""
    env = dict(environ, CONTENT_LENGTH=str(len(data)))
    env["wsgi.input"] = io.BytesIO(data)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    out = b"".join(app(env, start_response))
    return seen["status"], seen["headers"], out


def _has_messages(body: bytes) -> bool:
    try:
        return bool(json.loads(body or b"{}").get("Messages"))
    except ValueError:
        return True  # not JSON: let the caller see whatever it is


class EmbeddedMoto:
    """A moto server on a free loopback port, in a daemon thread of this process."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        wrap: Callable[[WSGIApp], WSGIApp] | None = None,
    ) -> None:
        self._host = host
        self._port = port
        # A test hook: e.g. answering LocalStack's health route in front of moto.
        self._wrap = wrap
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EmbeddedMoto:
        patch_sqs_clock()
        patch_dynamodb_transactions()
        patch_dynamodb_responses()
        patch_sqs_attributes()
        app: WSGIApp = SerialisingMiddleware(
            CachedDispatch(DomainDispatcherApplication(create_backend_app))
        )
        if self._wrap is not None:
            app = self._wrap(app)
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=KeepAliveRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="embedded-moto", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> EmbeddedMoto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
