"""Handlers may ask for the message by its class: `msg: SQSMessage`.

FastStream injects the message through a context annotation
(`Annotated[SQSMessage, Context("message")]`, also `faststream_sqs.annotations.SQSMessage`);
a parameter annotated with the bare class would be validated as message data instead. A
call decorator rewrites such parameters of the handler's signature into the context
annotation before FastStream builds its model, so both spellings work.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from faststream import Context

from faststream_sqs.message import SQSMessage

F = TypeVar("F", bound=Callable[..., Any])

MESSAGE = Annotated[SQSMessage, Context("message")]


def _resolve(annotation: Any, namespace: dict[str, Any]) -> Any:
    if isinstance(annotation, str):  # `from __future__ import annotations`
        try:
            return eval(annotation, namespace)  # noqa: S307 - the handler's own annotation
        except Exception:
            return annotation
    return annotation


def inject_message_by_class(call: F) -> F:
    """Give `call` a signature in which bare `SQSMessage` parameters come from the context.

    Applied to the wrapper FastStream composes for the handler (never to the user's own
    function), so setting its `__signature__` changes nothing else.
    """
    signature = inspect.signature(call)
    namespace = getattr(inspect.unwrap(call), "__globals__", {})
    parameters = [
        parameter.replace(annotation=MESSAGE)
        if _resolve(parameter.annotation, namespace) is SQSMessage
        else parameter
        for parameter in signature.parameters.values()
    ]
    if parameters != list(signature.parameters.values()):
        call.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return call
