"""The process's own logging (``configure_logging``) inside a test, as rendered, undone after.

Production caches each structlog logger on first use; a test that configured logging that
way would leave the gateway's module-level loggers bound to its processors for the rest of
the session, and ``structlog.testing.capture_logs`` in later tests would see nothing. So
here nothing is cached, and the previous configuration (its very processor list, which
``capture_logs`` edits in place) is put back.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from infra.logging import LogFormat, configure_logging


@contextmanager
def rendered_logs(fmt: LogFormat = "json", level: str = "DEBUG") -> Iterator[io.StringIO]:
    """Everything logged inside, as the process's stderr handler renders it."""
    saved = structlog.get_config()
    processors = list(saved["processors"])  # configure_logging edits the list in place
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    stream = io.StringIO()
    try:
        configure_logging(fmt, level)
        structlog.configure(cache_logger_on_first_use=False)
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        yield stream
    finally:
        structlog.configure(**saved)
        structlog.get_config()["processors"][:] = processors
        root.handlers[:] = handlers
        root.setLevel(root_level)
        for name, old in noisy.items():
            logging.getLogger(name).setLevel(old)
