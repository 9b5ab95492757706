"""Shared fixtures: one real moto server per run, aiobotocore clients, per-test resources.

Integration and e2e tests talk to moto over HTTP exactly as production talks to AWS.

``pytest -m localstack`` runs the integration suite (every test using ``moto_url``, marked
``localstack`` at collection) against a running LocalStack instead: its endpoint is resolved
by localstack-client from the environment pytest started with (``AWS_ENDPOINT_URL``, else
``LOCALSTACK_HOST``; one of them must be set) and checked with its health route. Without a
LocalStack URL, or when it does not answer, those tests are skipped with that reason.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from hypothesis import settings as hypothesis_settings

from infra.embedded.moto import EmbeddedMoto
from infra.provision import provision
from schemas.settings import CommonSettings

# No per-example deadline: the suite runs on shared, loaded machines, where a 200 ms budget
# for one example measures the machine, not the code (a property still fails on its value).
hypothesis_settings.register_profile("shared-machine", deadline=None)
hypothesis_settings.load_profile("shared-machine")

#: What the developer's environment said about LocalStack, read before
#: _hide_developer_aws_env hides every AWS_* variable from the tests.
LOCALSTACK_ENV = {
    k: os.environ[k] for k in ("AWS_ENDPOINT_URL", "LOCALSTACK_HOST", "USE_SSL") if k in os.environ
}
#: Why the localstack tests are skipped when no LocalStack URL is set.
NO_LOCALSTACK = (
    "no LocalStack URL set: run with LOCALSTACK_HOST=host[:port] (edge port 4566 by default) "
    "or AWS_ENDPOINT_URL=http://host:4566 in the environment"
)


def localstack_run(config: pytest.Config) -> bool:
    """This run selected the localstack marker (``-m localstack``, not ``not localstack``)."""
    expression = str(config.getoption("-m") or "")
    return re.search(r"(?<!not )\blocalstack\b", expression) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The integration suite is every test on the shared AWS endpoint fixture.
    for item in items:
        if "moto_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.localstack)


def localstack_url() -> str:
    """The LocalStack endpoint of LOCALSTACK_ENV (resolved by localstack-client), healthy;
    pytest.skip with the reason otherwise."""
    from infra.localstack import LocalStackUnavailableError, health, resolve

    if not LOCALSTACK_ENV.get("AWS_ENDPOINT_URL") and not LOCALSTACK_ENV.get("LOCALSTACK_HOST"):
        pytest.skip(NO_LOCALSTACK)
    saved = {
        k: os.environ.pop(k)
        for k in ("AWS_ENDPOINT_URL", "LOCALSTACK_HOST", "USE_SSL")
        if k in os.environ
    }
    os.environ.update(LOCALSTACK_ENV)
    try:
        url = resolve().endpoint.url or ""
        health(url)
    except LocalStackUnavailableError as exc:
        pytest.skip(str(exc))
    finally:
        for key in LOCALSTACK_ENV:
            os.environ.pop(key, None)
        os.environ.update(saved)
    return url


# Retries off against moto: a retried call would hide the very failure a test looks for, and
# moto never throttles on its own (throttling tests inject it explicitly).
MOTO_CLIENT_CONFIG = AioConfig(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture(autouse=True, scope="session")
def _hide_developer_aws_env() -> Iterator[None]:
    """No test may reach a developer's real AWS account: fake credentials, no profile (AWS's
    or the one a developer's running `up` left: SANDBOX_BROKER_PROFILE=none)."""
    ours = ("AWS_", "BROKER_", "SANDBOX_BROKER_")
    saved = {k: v for k, v in os.environ.items() if k.startswith(ours)}
    for key in saved:
        del os.environ[key]
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        SANDBOX_BROKER_PROFILE="none",
    )
    yield
    for key in [k for k in os.environ if k.startswith(ours)]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture(scope="session")
def moto_url(_hide_developer_aws_env: None, pytestconfig: pytest.Config) -> Iterator[str]:
    """A real moto server (HTTP on loopback) shared by the whole run; under
    ``-m localstack``, the running LocalStack instead (see the module docstring)."""
    if localstack_run(pytestconfig):
        yield localstack_url()
        return
    server = EmbeddedMoto().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def sqs(moto_url: str) -> AsyncIterator[object]:
    async with get_session().create_client(
        "sqs", endpoint_url=moto_url, region_name="us-east-1", config=MOTO_CLIENT_CONFIG
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def ddb(moto_url: str) -> AsyncIterator[object]:
    async with get_session().create_client(
        "dynamodb", endpoint_url=moto_url, region_name="us-east-1", config=MOTO_CLIENT_CONFIG
    ) as client:
        yield client


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}-"


@pytest.fixture
async def provisioned(moto_url: str, sqs: object, ddb: object) -> AsyncIterator[CommonSettings]:
    """Queues and tables under a fresh name prefix, deleted after the test."""
    settings = CommonSettings(name_prefix=unique_prefix(), aws_endpoint_url=moto_url)
    await provision(settings, sqs=sqs, ddb=ddb)  # type: ignore[arg-type]
    try:
        yield settings
    finally:
        names = settings.names
        for queue in (names.requests_queue, names.jobs_queue, names.requests_dlq, names.jobs_dlq):
            url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]  # type: ignore[attr-defined]
            await sqs.delete_queue(QueueUrl=url)  # type: ignore[attr-defined]
        for table in (names.pool_table, names.replies_table, names.tenants_table):
            await ddb.delete_table(TableName=table)  # type: ignore[attr-defined]
