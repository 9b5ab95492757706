"""LocalStack as the AWS endpoint: found the way localstack-client finds it, checked before use.

Resolution is localstack-client's own (``localstack_client.config``): ``AWS_ENDPOINT_URL``
when set, else ``LOCALSTACK_HOST`` (``host`` or ``host:port``, the edge port 4566 by
default), ``https`` when ``USE_SSL`` is ``1``/``true``; every service on that one edge
endpoint. Credentials are localstack-client's dummy ones (LocalStack accepts any, and a
real key must never be sent to it). ``sandbox-broker up --localstack`` and the
``pytest -m localstack`` suite both start here.

LocalStackUnavailableError   the endpoint does not answer its health check, or lacks SQS or
                             DynamoDB
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

from localstack_client import config as localstack_config
from localstack_client.session import Session

from consumers.stores.clients import AwsEndpoint

#: The services this system needs from LocalStack.
SERVICES: Final = ("sqs", "dynamodb")
HEALTH_PATH: Final = "/_localstack/health"
#: A service LocalStack reports in one of these states can take calls.
USABLE: Final = frozenset({"available", "running"})


class LocalStackUnavailableError(Exception):
    """LocalStack cannot serve this system at the resolved endpoint."""


@dataclass(frozen=True)
class Resolved:
    endpoint: AwsEndpoint
    #: Which variable decided the URL (for messages): AWS_ENDPOINT_URL, LOCALSTACK_HOST or
    #: localstack-client's default.
    source: str


def resolve() -> Resolved:
    """The LocalStack endpoint and dummy credentials, as localstack-client resolves them."""
    urls = {s: localstack_config.get_service_endpoint(s) for s in SERVICES}
    distinct = {u for u in urls.values() if u}
    if len(distinct) != 1:  # legacy per-service ports (USE_LEGACY_PORTS): not supported
        raise LocalStackUnavailableError(f"services resolve to different endpoints: {urls}")
    if os.environ.get("AWS_ENDPOINT_URL", "").strip():
        source = "AWS_ENDPOINT_URL"
    elif os.environ.get("LOCALSTACK_HOST"):
        source = "LOCALSTACK_HOST"
    else:
        source = f"localstack-client's default (localhost:{localstack_config.DEFAULT_EDGE_PORT})"
    session = Session()
    region = (
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or session.region_name
    )
    endpoint = AwsEndpoint(
        url=distinct.pop(),
        region=region,
        access_key_id=session.aws_access_key_id,
        secret_access_key=session.aws_secret_access_key,
    )
    return Resolved(endpoint=endpoint, source=source)


def health(url: str, *, timeout_s: float = 3.0) -> dict[str, Any]:
    """LocalStack's health document; LocalStackUnavailableError unless SQS and DynamoDB can
    take calls."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + HEALTH_PATH, timeout=timeout_s) as resp:  # noqa: S310 - a URL the operator configured
            document: dict[str, Any] = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise LocalStackUnavailableError(
            f"LocalStack at {url} did not answer {HEALTH_PATH} ({type(exc).__name__})"
        ) from exc
    services = document.get("services", {})
    missing = [s for s in SERVICES if services.get(s) not in USABLE]
    if missing:
        states = {s: services.get(s, "absent") for s in missing}
        raise LocalStackUnavailableError(f"LocalStack at {url} cannot serve {states}")
    return document
