"""What a smoke run is told and what it reports (``checks.py`` runs it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

#: The whole run, polls included, ends within this (the contract's "under a minute").
DEADLINE_S: Final = 55.0
#: One allocation or release may take this long to be answered before it counts as failed.
REPLY_TIMEOUT_S: Final = 20.0


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Result:
    check: str
    route: str
    outcome: Outcome
    detail: str = ""


@dataclass
class SmokeReport:
    url: str
    results: list[Result] = field(default_factory=list)
    tracks: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.outcome is not Outcome.FAILED for r in self.results)

    @property
    def deviations(self) -> list[Result]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "elapsed_s": round(self.elapsed_s, 2),
            "tracks": self.tracks,
            "released": self.released,
            "checks": [
                {"check": r.check, "route": r.route, "outcome": r.outcome.value, "detail": r.detail}
                for r in self.results
            ],
        }


class SmokeUnreachableError(Exception):
    """The deployment did not answer at the transport level."""


@dataclass(frozen=True)
class SmokeOptions:
    url: str
    token: str
    admin_token: str | None = None
    origin: str | None = None
    deadline_s: float = DEADLINE_S
    reply_timeout_s: float = REPLY_TIMEOUT_S
