"""moto answering LocalStack's health route: a stand-in for LocalStack where Docker is not.

It proves the LocalStack plumbing (endpoint resolution, the health check, provisioning,
the suite's fixtures, ``up --localstack`` and its smoke run) end to end; it does not prove
that LocalStack itself behaves like moto (README: what was and was not run on LocalStack).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from infra.embedded.moto import EmbeddedMoto
from infra.localstack import HEALTH_PATH

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
HEALTH = {"services": {"sqs": "running", "dynamodb": "running"}, "edition": "stand-in"}


def _with_health(app: WSGIApp) -> WSGIApp:
    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(HEALTH).encode()]
        return app(environ, start_response)

    return serve


def localstack_standin() -> EmbeddedMoto:
    """Not started yet: ``with localstack_standin() as server: server.url``."""
    return EmbeddedMoto(wrap=_with_health)
