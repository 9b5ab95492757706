"""What a load run does, validated before anything is sent.

Exactly one pacing: an open-loop ``rate`` (requests/s, started on schedule whether or not
earlier ones answered), a closed-loop ``concurrency`` (that many tracks in flight, each
starting its next request when the last one answered), or a ``burst`` (every request at
once). Every run is bounded twice: ``requests`` and ``duration_s``, plus ``timeout_s`` per
request. Traffic stays on this machine: every URL must name a loopback address.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Final, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: A cap on one run, so a typo cannot start an endless flood.
MAX_REQUESTS: Final = 100_000
MAX_DURATION_S: Final = 3600.0

_RATE_RE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|m|min))?\s*$")


class Target(StrEnum):
    #: Through the gateway, as tracks call it: POST /v1/allocate, GET /v1/requests/{id}.
    GATEWAY = "gateway"
    #: Straight onto the requests queue (SendMessage) and the replies table (GetItem).
    QUEUE = "queue"


def parse_rate(value: str | float | None) -> float | None:
    """``"200/min"``, ``"5/s"`` or ``5`` (per second) as requests per second."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    match = _RATE_RE.match(value)
    if match is None:
        raise ValueError(f"rate {value!r}: expected N, N/s or N/min")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number / 60.0 if unit in {"m", "min"} else number


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoadOptions(BaseModel):
    """One load run (``sandbox-broker loadgen --help`` documents each field)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Target = Target.GATEWAY
    gateway_url: str | None = None
    token: SecretStr | None = None
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    name_prefix: str = Field("", pattern=r"^[A-Za-z0-9_-]{0,40}$")

    requests: int = Field(100, ge=1, le=MAX_REQUESTS)
    rate: float | None = Field(None, gt=0, le=10_000)
    concurrency: int | None = Field(None, ge=1, le=10_000)
    burst: bool = False
    duration_s: float = Field(60.0, gt=0, le=MAX_DURATION_S)
    timeout_s: float = Field(60.0, gt=0, le=900)

    tracks: int | None = Field(None, ge=1, le=MAX_REQUESTS)
    track_prefix: str = Field("lg", pattern=r"^[A-Za-z0-9._:@-]{1,40}$")
    release: bool = False
    poison_rate: float = Field(0.0, ge=0, le=0.5)
    connections: int = Field(1000, ge=1, le=4096)
    poll_first_s: float = Field(0.1, gt=0, le=10)
    poll_max_s: float = Field(1.0, gt=0, le=60)

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, value: object) -> object:
        return parse_rate(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        pacing = [self.rate is not None, self.concurrency is not None, self.burst]
        if sum(pacing) != 1:
            raise ValueError("choose exactly one of rate, concurrency or burst")
        if self.target is Target.GATEWAY:
            if not self.gateway_url:
                raise ValueError("the gateway target needs gateway_url (or a ready file)")
            if self.token is None:
                raise ValueError("the gateway target needs the track token")
        if self.target is Target.QUEUE and not self.aws_endpoint_url:
            raise ValueError("the queue target needs aws_endpoint_url (moto or LocalStack)")
        if self.poison_rate and self.target is not Target.QUEUE:
            raise ValueError("poison messages go straight to the queue: use target queue")
        if self.poison_rate and self.release:
            raise ValueError("poison_rate and release do not mix")
        for url in (self.gateway_url, self.aws_endpoint_url):
            if url and not is_loopback_url(url):
                raise ValueError(f"{url} is not a loopback address: load stays on this machine")
        if self.poll_first_s > self.poll_max_s:
            raise ValueError("poll_first_s must not exceed poll_max_s")
        return self

    @property
    def pacing(self) -> str:
        if self.burst:
            return "burst"
        if self.rate is not None:
            return f"open loop {self.rate:g}/s"
        return f"closed loop x{self.concurrency}"

    def track_count(self) -> int:
        return self.tracks or self.requests

    def poisoned(self, index: int) -> bool:
        """Whether request ``index`` is preceded by a malformed message in its group.

        Spread evenly (every 1/rate-th request), so a run's poison count is predictable.
        """
        if not self.poison_rate:
            return False
        every = max(1, round(1 / self.poison_rate))
        return index % every == every // 2
