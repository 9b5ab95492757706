"""Process settings (pydantic-settings, env prefix ``BROKER_``; standard AWS env vars honoured).

One class per process, read once at start-up and passed down. Defining them here lets the
gateway, consumer and scheduler agree on names; only process entry points instantiate them
(which is when the environment is read).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.messages import MAX_EXTEND_BY_S, MIN_EXTEND_BY_S
from schemas.names import ResourceNames

#: Shortest accepted secret (v2 decision: tokens and the signing secret, >= 24 characters).
MIN_SECRET_CHARS: Final = 24
#: API Gateway refuses request header blocks over 10 KiB; the local gateway does the same.
API_GATEWAY_MAX_HEADER_BYTES: Final = 10_240


class CommonSettings(BaseSettings):
    """What every process needs: where AWS is, what the resources are called, how to log."""

    model_config = SettingsConfigDict(
        env_prefix="BROKER_",
        frozen=True,
        extra="ignore",
        populate_by_name=True,
        # A validation error must never echo a token: the whole-model checks see them all.
        hide_input_in_errors=True,
    )

    name_prefix: str = Field("", pattern=r"^[A-Za-z0-9_-]{0,40}$")
    aws_endpoint_url: str | None = Field(
        None,
        description="moto or LocalStack; unset on AWS",
        validation_alias=AliasChoices("BROKER_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
    )
    aws_region: str = Field(
        "us-east-1",
        validation_alias=AliasChoices("BROKER_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    # 20 s, not SQS's 30 or the 60 s of before: the heartbeat keeps held messages hidden
    # while they run, so the timeout only bounds how long a crashed consumer's messages
    # wait (a request lost to five crashes in a row waits five of them; BENCHMARKS.md,
    # issue 15 chaos: p99 x5.9 of the calm burst at 20 s against x17.9 at 60 s).
    visibility_timeout_s: int = Field(20, ge=1, le=43_200)
    max_receive_count: int = Field(5, ge=1, le=1000)
    message_retention_s: int = Field(1_209_600, ge=60, le=1_209_600)
    reply_ttl_s: int = Field(86_400, ge=60)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    tenant_cache_ttl_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description=(
            "v2: how long a tenant / token lookup is cached by the gateway, the consumer and "
            "the read Lambda (a rotation or revocation takes at most this long)"
        ),
    )
    tracing: Literal["off", "otlp", "console"] = Field(
        "off",
        description=(
            "OpenTelemetry traces: off (default: nothing is instrumented), otlp (OTLP over "
            "HTTP, see tracing_otlp_endpoint), console (spans printed; for a look locally)"
        ),
    )
    tracing_otlp_endpoint: str | None = Field(
        None,
        description=(
            "OTLP/HTTP traces URL; unset: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or "
            "OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318/v1/traces"
        ),
    )
    tracing_xray_ids: bool = Field(
        False,
        description="trace ids X-Ray accepts (epoch-prefixed); set on AWS with an X-Ray exporter",
    )

    @property
    def names(self) -> ResourceNames:
        return ResourceNames.with_prefix(self.name_prefix)


class ConsumerSettings(CommonSettings):
    """The FastStream consumer app (handlers for requests and jobs)."""

    max_workers: int = Field(16, ge=1, le=512)
    batch_size: int = Field(10, ge=1, le=10)
    wait_time_s: int = Field(20, ge=0, le=20)
    shutdown_timeout_s: float = Field(30.0, ge=0)
    http_host: str = "127.0.0.1"
    http_port: int = Field(8001, ge=0, le=65_535)
    lab_duration_s: int = Field(4 * 3600, ge=60)
    expiry_buffer_s: int = Field(1800, ge=0)
    candidate_page_size: int = Field(100, ge=1, le=1000)
    csp_base_url: str = "http://127.0.0.1:8002/api"
    csp_token: SecretStr | None = None
    csp_timeout_s: float = Field(10.0, gt=0)
    csp_rate_per_s: float = Field(20.0, gt=0)
    csp_page_size: int = Field(100, ge=1, le=1000)
    csp_retry_attempts: int = Field(3, ge=1, le=10)
    csp_retry_after_max_s: float = Field(
        30.0, ge=0, description="longer Retry-After: fail now and hand it to the caller"
    )
    csp_breaker_failures: int = Field(5, ge=1)
    csp_breaker_window_s: float = Field(60.0, gt=0)
    csp_breaker_cooldown_s: float = Field(30.0, gt=0)
    max_deletion_retries: int = Field(
        3,
        ge=1,
        description=(
            "failed CSP deletes per delete_sandbox message before the sandbox becomes "
            "deletion_failed (fewer than quarantine_after, so deletion_failed stays a real "
            "state between retries)"
        ),
    )
    quarantine_after: int = Field(
        5,
        ge=1,
        le=1000,
        description=(
            "v2: consecutive failed CSP deletes (across messages) after which a sandbox is "
            "quarantined: no automatic retry until an operator acts"
        ),
    )
    extension_s: int = Field(
        3600,
        ge=MIN_EXTEND_BY_S,
        le=MAX_EXTEND_BY_S,
        description="v2: how far an extend without X-Extend-By-S pushes expires_at",
    )
    max_lease_s: int = Field(
        43_200,
        ge=60,
        le=30 * 86_400,
        description=(
            "v2: a lease never runs past allocated_at + max_lease_s, however often it is "
            "extended (at least lab_duration_s)"
        ),
    )
    waiter_interval_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description=(
            "v2: how often the waiter pump looks for waiting allocations (it is also woken "
            "by this consumer's syncs; deadlines are answered on time whatever this is)"
        ),
    )
    history_ttl_s: int = Field(
        90 * 86_400,
        ge=86_400,
        description="v2: how long the lease history keeps a lease (DynamoDB TTL)",
    )
    events_webhook_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        description="v2: lease events are POSTed here as JSON when set (local stack)",
    )
    delete_retry_base_s: int = Field(
        30, ge=0, description="first retry delay of a failed CSP delete (doubles per receive)"
    )
    deletion_failed_retry_base_s: int = Field(
        3600, ge=0, description="backoff before cleanup retries a deletion_failed sandbox"
    )
    stale_grace_s: int = Field(86_400, ge=0)
    aws_retry_mode: Literal["standard", "adaptive", "legacy"] = Field(
        "standard",
        description=(
            "botocore retry mode for SQS and DynamoDB; adaptive adds a client-side rate "
            "limiter that slows every handler sharing the client after a throttle"
        ),
    )
    aws_max_attempts: int = Field(5, ge=1, le=20, description="botocore attempts per call")
    dlq_sweep_interval_s: float = Field(
        10.0,
        ge=0,
        description=(
            "how often the consumer looks for dead-lettered requests no handler finished "
            "and answers them DEAD_LETTERED (0 turns the sweep off)"
        ),
    )

    candidate_shard: str = Field(
        "0/1",
        pattern=r"^[0-9]{1,4}/[0-9]{1,4}$",
        description=(
            "'i/n': this is consumer i of n, and prefers the candidates whose id hashes to "
            "i (others only when its own are gone), so consumers do not race for the same "
            "sandboxes; `up --consumers n` sets it for each child. 0/1: no preference"
        ),
    )

    @field_validator("candidate_shard")
    @classmethod
    def _shard_in_range(cls, value: str) -> str:
        index, count = (int(part) for part in value.split("/"))
        if not 0 <= index < count:
            raise ValueError(f"candidate_shard {value!r}: need 0 <= i < n")
        return value

    @model_validator(mode="after")
    def _lifecycle_bounds(self) -> Self:
        if self.max_lease_s < self.lab_duration_s:
            raise ValueError(
                f"max_lease_s ({self.max_lease_s}) must be at least lab_duration_s "
                f"({self.lab_duration_s}): a lease would start past its own limit"
            )
        if self.max_deletion_retries >= self.quarantine_after:
            raise ValueError(
                f"max_deletion_retries ({self.max_deletion_retries}) must be below "
                f"quarantine_after ({self.quarantine_after}), or one delete message would "
                "quarantine a sandbox before it ever is deletion_failed"
            )
        return self

    @property
    def expiry_after_s(self) -> int:
        """Age after which an allocation is expired: lab duration plus buffer."""
        return self.lab_duration_s + self.expiry_buffer_s


class GatewaySettings(CommonSettings):
    """The local stand-in for API Gateway: auth, validation, rate limit, enqueue and read."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65_535)
    track_token: SecretStr | None = None
    admin_token: SecretStr | None = None
    rate_limit_per_min: int = Field(100, ge=1)
    rate_limit_burst: int = Field(20, ge=1)
    admin_rate_limit_per_min: int = Field(600, ge=1)
    admin_rate_limit_burst: int = Field(100, ge=1)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(16_384, ge=0)
    max_header_bytes: int = Field(
        API_GATEWAY_MAX_HEADER_BYTES,
        ge=1024,
        le=65_536,
        description="v2: a request whose header block is larger is refused (as API Gateway does)",
    )
    token_signing_secret: SecretStr | None = Field(
        None,
        description=(
            "v2: HMAC key from which each tenant's signed-track-token key is derived "
            f"(at least {MIN_SECRET_CHARS} characters, distinct from every token)"
        ),
    )
    metrics_federate_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "v2: consumer /metrics URLs whose broker_* series this gateway's /metrics also "
            "serves, each once (comma-separated; the embedded stack sets it)"
        ),
    )

    @field_validator("cors_origins", "metrics_federate_urls", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @model_validator(mode="after")
    def _strong_distinct_secrets(self) -> Self:
        """Tokens and the signing secret: each >= 24 characters, no two equal (an admin
        token equal to the track token would give every track admin rights). Messages name
        the setting, never its value."""
        secrets = {
            "track_token": self.track_token,
            "admin_token": self.admin_token,
            "token_signing_secret": self.token_signing_secret,
        }
        values = {k: v.get_secret_value() for k, v in secrets.items() if v is not None}
        # An empty token means "not configured" (it matches nothing): allowed, not weak.
        values = {k: v for k, v in values.items() if v or k == "token_signing_secret"}
        for name, value in values.items():
            if len(value) < MIN_SECRET_CHARS:
                raise ValueError(f"{name} must be at least {MIN_SECRET_CHARS} characters")
            if value.strip() != value or value == "*":
                raise ValueError(f"{name} must not be * or have surrounding whitespace")
        names = list(values)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if values[a] == values[b]:
                    raise ValueError(f"{a} must differ from {b}")
        return self


class SchedulerSettings(CommonSettings):
    """The job producer: one message per job type per interval, deduplicated by time bucket."""

    sync_interval_s: int = Field(600, ge=1)
    cleanup_interval_s: int = Field(300, ge=1)
    expire_interval_s: int = Field(300, ge=1)
    delete_stale_interval_s: int = Field(86_400, ge=1)


class ReadLambdaSettings(CommonSettings):
    """The read Lambda on AWS (``infra/read_lambda``): the gateway's code routes behind API
    Gateway. Its tokens live in Secrets Manager; the environment names only their ARNs."""

    track_token_secret_arn: str = Field(min_length=1)
    admin_token_secret_arn: str = Field(min_length=1)
    token_signing_secret_arn: str | None = Field(
        None, description="v2: the secret signed track tokens are verified with (optional)"
    )
    token_cache_ttl_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="seconds the tokens read from Secrets Manager are trusted (the authorizer TTL)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return GatewaySettings._split_origins(value)


class EventsLambdaSettings(CommonSettings):
    """v2: the stream Lambda on AWS (``infra/events_lambda``): the pool table's changes →
    lease history and EventBridge events."""

    events_bus_name: str = Field(min_length=1, description="the EventBridge bus events go to")
    history_ttl_s: int = Field(
        90 * 86_400, ge=86_400, description="how long the lease history keeps a lease"
    )
