"""Settings of the operator CLI process (env prefix ``BROKER_``, AWS env vars honoured)."""

from __future__ import annotations

from aiobotocore.config import AioConfig
from pydantic import Field, SecretStr

from consumers.stores.clients import client_config
from schemas.settings import SchedulerSettings


class OpsSettings(SchedulerSettings):
    """The scheduler's intervals (``status`` finds the latest scheduled job replies by them)
    plus the CLI's own knobs."""

    connect_timeout_s: float = Field(
        2.0, gt=0, description="fail fast when the endpoint is unreachable"
    )
    read_timeout_s: float = Field(30.0, gt=0)
    max_attempts: int = Field(2, ge=1, le=10, description="botocore attempts per call")
    receive_wait_s: int = Field(
        1,
        ge=0,
        le=20,
        description=(
            "long poll of DLQ reads: 0 answers faster, but on AWS short polling samples a "
            "subset of servers and may return nothing while messages wait"
        ),
    )

    token_signing_secret: SecretStr | None = Field(
        None,
        min_length=24,
        description="v2: `tenants mint` signs with it (the gateway's and authorizer's secret)",
    )

    @property
    def client_config(self) -> AioConfig:
        """An operator running a command against a stack that is down wants a one-line
        answer in a couple of seconds, not botocore's default 60 s connect timeout times
        five attempts."""
        return client_config(
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
            max_attempts=self.max_attempts,
        )
