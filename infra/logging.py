"""structlog configured once per process: JSON lines in production, readable console locally.

Field names are the ones DESIGN.md lists (level, event, request_id, action, outcome,
latency_ms, track_id, sandbox_id, message_group, receive_count): the seeds' CloudWatch metric
filters and Insights queries work on them unchanged.

No token reaches a log line or a traceback, in any format: console tracebacks never show
local variables (rich's ``show_locals`` printed every frame's headers, 16 copies of a
bearer token in one 500); fields named like a credential (``authorization``, ``*token``,
``*secret``, ``*password``) show no value; and every rendered line (message, fields,
traceback; JSON or console) passes through ``Redactor`` last: the secrets this process
knows (the ``BROKER_*TOKEN*`` / ``BROKER_*SECRET*`` settings of its environment and any
passed in), raw or URL-encoded, and anything shaped like a credential (``Bearer …``,
``Token …``, ``Basic …``, signed track tokens ``sbt1.…``) become ``[REDACTED]``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal
from urllib.parse import quote

import structlog
from pydantic import SecretStr

from faststream_sqs.logs import EVENT_ATTRIBUTE, FIELDS_ATTRIBUTE

LogFormat = Literal["auto", "json", "console"]

REDACTED: Final = "[REDACTED]"
#: Credentials by shape, whatever their value: an Authorization value (any scheme the
#: project speaks: Bearer for tracks and admins, Token for the CSP, Basic for good measure)
#: and a signed track token anywhere.
_SHAPES: Final = (
    # 8+ characters (16+ after "Token"), so prose such as "missing bearer token" stays.
    (re.compile(r"(?i)\b(bearer|basic)(\s+|%20|\+)[^\s'\",;)\[\]}\\]{8,}"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)\b(token)(\s+|%20|\+)[A-Za-z0-9._~+/=-]{16,}"), rf"\1\2{REDACTED}"),
    (re.compile(r"\bsbt1\.[A-Za-z0-9_\-=.]+"), f"sbt1.{REDACTED}"),
)
#: Environment variables whose values are secrets (settings are BROKER_-prefixed).
_SECRET_ENV: Final = re.compile(r"^BROKER_\w*(TOKEN|SECRET|PASSWORD)\w*$", re.IGNORECASE)
#: Shorter values are not worth redacting on their own (they would shred ordinary words).
_MIN_SECRET_CHARS: Final = 8


def secrets_from_env(env: Mapping[str, str] | None = None) -> list[str]:
    """The secret settings of this process's environment (``BROKER_*TOKEN*`` and the like)."""
    env = os.environ if env is None else env
    return [value for name, value in env.items() if _SECRET_ENV.match(name) and value]


class Redactor:
    """Replaces secrets and credential-shaped text in a rendered log line."""

    def __init__(self, secrets: Iterable[str | SecretStr | None] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
            if raw and len(raw) >= _MIN_SECRET_CHARS:
                values.update({raw, quote(raw, safe=""), raw.encode("unicode_escape").decode()})
        # Longest first, so a secret containing another is replaced whole.
        self._values = sorted(values, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        for pattern, replacement in _SHAPES:
            text = pattern.sub(replacement, text)
        return text

    def __call__(self, _logger: Any, _method: str, rendered: Any) -> Any:
        """The formatter's last processor: it receives the renderer's output."""
        if isinstance(rendered, str):
            return self.redact(rendered)
        if isinstance(rendered, bytes):
            return self.redact(rendered.decode("utf-8", "replace"))
        return rendered


#: Event fields whose values are secrets by name (``token_id`` and the like are not).
_SECRET_KEY: Final = re.compile(r"(?i)^(authorization|cookie|.*token|.*secret|.*password)$")


def redact_secret_fields(_logger: Any, _method: str, event_dict: Any) -> Any:
    """An event field named like a credential never shows its value, whatever it is."""
    for key in list(event_dict):
        if isinstance(key, str) and _SECRET_KEY.match(key) and event_dict[key] is not None:
            event_dict[key] = REDACTED
    return event_dict


def _console_renderer() -> structlog.dev.ConsoleRenderer:
    colors = sys.stderr.isatty()
    formatter: Any = structlog.dev.plain_traceback
    if getattr(structlog.dev, "rich", None) is not None:  # rich is a runtime dependency
        formatter = structlog.dev.RichTracebackFormatter(show_locals=False)
    return structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=formatter)


def sqs_broker_events(
    _logger: object, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """The SQS broker's own events (faststream_sqs.logs) as structured lines again: their
    name as the event and their fields as fields, not one ``event key=value`` string."""
    record = event_dict.get("_record")
    event = getattr(record, EVENT_ATTRIBUTE, None)
    if event:
        event_dict["event"] = event
        for key, value in getattr(record, FIELDS_ATTRIBUTE, {}).items():
            if value is not None:
                event_dict.setdefault(key, value)
    return event_dict


def configure_logging(
    fmt: LogFormat = "auto", level: str = "INFO", *, secrets: Iterable[str | SecretStr | None] = ()
) -> None:
    """Route structlog and stdlib logging through one renderer on stderr, redacted last."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        redact_secret_fields,
    ]
    renderer: structlog.types.Processor
    if fmt == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = _console_renderer()
    redactor = Redactor([*secrets_from_env(), *secrets])
    # In place: a logger bound (and cached) before a reconfiguration follows it, and so
    # does structlog.testing.capture_logs, which edits this very list.
    processors = structlog.get_config()["processors"]
    processors[:] = [*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter]
    structlog.configure(
        processors=processors,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[sqs_broker_events, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
                redactor,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Chatty libraries: one line per HTTP request to moto is noise, not information.
    for noisy in ("werkzeug", "botocore", "aiobotocore", "urllib3", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
