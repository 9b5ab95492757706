"""No token in any log line or traceback, in any format (issue 13, security review).

The finding: console logging rendered tracebacks with rich's ``show_locals``, so one 500
printed every frame's request headers — 16 copies of the bearer token. These tests log the
way the processes do (``configure_logging``, both formats) and read what reaches stderr.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import structlog

from infra.logging import REDACTED, Redactor, configure_logging

#: A track token as the settings hold it, and a signed track token (sbt1.<claims>.<mac>).
TOKEN = "trk-9f2c1d7e4b8a6c3f0e5d2a1b"
SIGNED = "sbt1.eyJ0ZW5hbnQiOiJhY21lIiwidHJhY2tfaWQiOiJ0LTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
OTHER = "never-configured-token-abcdefgh"
UNKNOWN = "shaped-like-nothing-0123456789"


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the root handler configure_logging installs writes, and the handlers restored."""
    monkeypatch.setenv("BROKER_TRACK_TOKEN", TOKEN)
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    out = io.StringIO()
    yield out
    root.handlers[:] = saved
    root.setLevel(level)
    structlog.reset_defaults()


def _configure(fmt: str, out: io.StringIO) -> None:
    configure_logging(fmt, "INFO")  # type: ignore[arg-type]
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)


def _fail_with_secrets_in_locals() -> None:
    headers = {"authorization": f"Bearer {TOKEN}", "x-signed": SIGNED}
    raw = [(b"authorization", f"Bearer {OTHER}".encode())]
    token = TOKEN
    canary = "-".join(("only", "in", "a", "local"))  # never in the message nor the source
    raise RuntimeError(f"could not use {headers!r} {raw!r} {token} {len(canary)}")


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_no_token_in_any_line_or_traceback(fmt: str, stderr: io.StringIO) -> None:
    _configure(fmt, stderr)
    log = structlog.get_logger(f"tests.logging.{fmt}")
    try:
        _fail_with_secrets_in_locals()
    except RuntimeError:
        log.exception("unhandled_error", authorization=f"Bearer {OTHER}", path="/v1/allocate")
        logging.getLogger(f"stdlib.{fmt}").exception("stdlib side: %s", TOKEN)
    log.info("plain", token=TOKEN, signed=SIGNED, quoted=quote(f"Bearer {OTHER}"))
    log.warning("csp_failed", header=f"Authorization: Token {OTHER}")
    log.info("by_name", csp_token=UNKNOWN, authorization=UNKNOWN, token_id="tok_1")
    text = stderr.getvalue()
    assert "RuntimeError" in text and "unhandled_error" in text and "csp_failed" in text
    assert "_fail_with_secrets_in_locals" in text  # the traceback is there, only redacted
    assert "tok_1" in text  # a token's id is not a secret
    for secret in (TOKEN, SIGNED, OTHER, quote(TOKEN), UNKNOWN):
        assert secret not in text, (secret, text)
    assert REDACTED in text


def test_console_tracebacks_show_no_locals(stderr: io.StringIO) -> None:
    _configure("console", stderr)
    try:
        _fail_with_secrets_in_locals()
    except RuntimeError:
        structlog.get_logger("tests.logging.frames").exception("boom")
    text = stderr.getvalue()
    assert "_fail_with_secrets_in_locals" in text
    assert "only-in-a-local" not in text


def test_redactor_keeps_ordinary_text_and_replaces_known_secrets_in_every_encoding() -> None:
    redactor = Redactor([TOKEN, None, "short"])
    assert redactor.redact("allocate succeeded for track t-1 in 12 ms") == (
        "allocate succeeded for track t-1 in 12 ms"
    )
    assert redactor.redact("short words stay") == "short words stay"
    for shown in (TOKEN, quote(TOKEN, safe=""), f"b'{TOKEN}'"):
        assert TOKEN not in redactor.redact(shown)
    assert redactor.redact("bearer abc.defgh") == f"bearer {REDACTED}"
    assert redactor.redact(f"Authorization: Bearer {TOKEN}") == f"Authorization: Bearer {REDACTED}"
    prose = "missing or invalid bearer token; the token may not use this route"
    assert redactor.redact(prose) == prose


def test_no_cli_prints_rich_tracebacks_with_locals() -> None:
    """typer's pretty exceptions show every frame's locals (a --token among them): every
    app that can be an entry point turns them off."""
    from infra.cli import app as root
    from producers.cli import gateway_app, track_app
    from producers.loadgen.cli import loadgen_app
    from producers.ops.cli import app as ops

    for app in (root, gateway_app, track_app, loadgen_app, ops):
        assert not (app.pretty_exceptions_enable and app.pretty_exceptions_show_locals), app.info
