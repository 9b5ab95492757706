"""How a subscriber meets a failing message: retry in place, or reject an undecodable body.

Every release raises a message's receive count, and SQS dead-letters by that count: a
failing message released again and again drags its FIFO group-mates (released with it)
towards the DLQ too. So a handler failure is first retried in place, a few times with
backoff, while the heartbeat keeps the message and its group-mates invisible; only then
does the error reach FastStream's acknowledgement (release, by default).

A body that cannot be decoded or validated will not get better: it is not retried but
rejected at once by the subscriber's reject policy, after the application's hook has seen
it, and without ever running the handler.

This is the innermost consume middleware of every SQS subscriber, so it wraps exactly
FastStream's decode-and-call step.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeAlias, TypeVar, cast

from fast_depends.exceptions import ValidationError as ArgumentsValidationError
from faststream.exceptions import IgnoredException
from faststream.middlewares import BaseMiddleware

from faststream_sqs.logs import EventLog
from faststream_sqs.message import reset_current_message, set_current_message

if TYPE_CHECKING:
    from faststream._internal.basic_types import AsyncFuncAny
    from faststream._internal.context.repository import ContextRepo
    from faststream.message import StreamMessage

    from faststream_sqs.message import SQSMessage

P = ParamSpec("P")
T = TypeVar("T")

DecodeErrorHook: TypeAlias = Callable[[dict[str, Any], Exception], Awaitable[None] | None]
"""Called with the raw SQS message (as ReceiveMessage returned it) and the decode or
validation error (pydantic's own error when validation failed), before the message is
rejected."""


@dataclass(slots=True)
class _Attempt:
    started: bool = False


_current_attempt: ContextVar[_Attempt | None] = ContextVar("faststream_sqs_attempt", default=None)


def _mark_started() -> None:
    if (attempt := _current_attempt.get()) is not None:
        attempt.started = True


def mark_handler_start(call: Callable[P, T]) -> Callable[P, T]:
    """A call decorator recording that the handler itself began to run.

    FastStream decodes the body, validates it and solves dependencies inside the handler
    call; whatever fails before the handler's first line is the message's fault, what
    fails after is the handler's. The decorator wraps the handler as declared (the
    signature is kept, so FastStream builds the same model from it).
    """
    if inspect.iscoroutinefunction(call):

        @functools.wraps(call)
        async def started_async(*args: P.args, **kwargs: P.kwargs) -> Any:
            _mark_started()
            return await call(*args, **kwargs)

        return cast("Callable[P, T]", started_async)

    @functools.wraps(call)
    def started(*args: P.args, **kwargs: P.kwargs) -> T:
        _mark_started()
        return call(*args, **kwargs)

    return started


def undecodable_cause(exc: BaseException, *, handler_started: bool) -> Exception | None:
    """The decode or validation error behind `exc`; None when the handler itself failed.

    A ValueError raised before the handler started is a body that does not decode
    (`SQSDecodeError`, a JSON error) or arguments that do not validate (pydantic's or
    fast_depends' ValidationError, both ValueErrors). Anything raised once the handler
    runs, or any other error before (a dependency that cannot connect), is a failure to
    retry.
    """
    if handler_started or not isinstance(exc, ValueError):
        return None
    if isinstance(exc, ArgumentsValidationError) and isinstance(exc.original_error, Exception):
        return exc.original_error
    return exc


class FailurePolicy:
    """The middleware factory: retry options, the decode-error hook, the shutdown flag."""

    def __init__(
        self,
        *,
        max_attempts: int,
        retry_backoff_s: float,
        on_decode_error: DecodeErrorHook | None,
        stopping: Callable[[], bool],
        log: EventLog | None = None,
    ) -> None:
        self.log = log or EventLog()
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self.on_decode_error = on_decode_error
        self.stopping = stopping

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> _FailureScope:
        return _FailureScope(msg, context=context, policy=self)

    async def reject_undecodable(self, message: SQSMessage, cause: Exception) -> None:
        if self.on_decode_error is not None:
            try:
                result = self.on_decode_error(message.raw_message.data, cause)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                # The message is rejected all the same: a broken hook must not keep
                # an undecodable message alive.
                self.log.error(
                    "decode_error_hook_failed",
                    queue=message.queue,
                    message_id=message.message_id,
                    error=repr(exc),
                )
        await message.reject(f"undecodable: {type(cause).__name__}")


class _FailureScope(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: ContextRepo, policy: FailurePolicy) -> None:
        super().__init__(msg, context=context)
        self._policy = policy

    async def consume_scope(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        policy = self._policy
        attempt = 1
        while True:
            state = _Attempt()
            token = _current_attempt.set(state)
            message_token = set_current_message(msg)  # type: ignore[arg-type]
            try:
                return await call_next(msg)
            except IgnoredException:
                # AckMessage / NackMessage / RejectMessage / SkipMessage, StopConsume and
                # StopApplication say what to do next: never retried.
                raise
            except Exception as exc:
                cause = undecodable_cause(exc, handler_started=state.started)
                if cause is not None:
                    # Rejected now; the error goes on to the outer middlewares (an
                    # ExceptionMiddleware, the log), whose settlement comes too late.
                    await policy.reject_undecodable(msg, cause)  # type: ignore[arg-type]
                    raise
                if attempt >= policy.max_attempts or msg.committed or policy.stopping():
                    raise
                policy.log.info(
                    "handler_retry",
                    queue=getattr(msg, "queue", ""),
                    message_id=msg.message_id,
                    attempt=attempt,
                    error=f"{type(exc).__name__}: {exc}"[:200],
                )
                await asyncio.sleep(policy.retry_backoff_s * 2 ** (attempt - 1))
                attempt += 1
            finally:
                _current_attempt.reset(token)
                reset_current_message(message_token)
