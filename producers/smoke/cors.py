"""The CORS checks of a smoke run (with ``--origin``): the preflight allows the origin and
the seeds' headers, an answer exposes Retry-After, a foreign origin is refused."""

from __future__ import annotations

from typing import Final

from producers.gateway.validation import ALLOWED_REQUEST_HEADERS
from producers.smoke.session import Deviation, Session

#: An origin no deployment allows.
FOREIGN_ORIGIN: Final = "https://smoke-check.invalid"


async def cors_checks(s: Session, *, track: str) -> None:
    """Preflight, an answer's CORS headers and a foreign origin (with ``--origin``)."""
    route = "OPTIONS /v1/allocate"
    if not s.o.origin:
        for name in ("CORS preflight", "CORS answer", "CORS other origin"):
            s.skip(
                name,
                route if name != "CORS answer" else "POST /v1/allocate",
                "no --origin given",
            )
        return
    origin = s.o.origin
    requested = ", ".join(h.lower() for h in ALLOWED_REQUEST_HEADERS)

    async def preflight() -> str:
        response = await s.send(
            "OPTIONS",
            "/v1/allocate",
            {
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": requested,
            },
        )
        if response.status_code not in {200, 204}:
            raise Deviation(f"status {response.status_code}, expected 204")
        s.conforms(response, response.status_code)
        allow_origin = response.headers.get("access-control-allow-origin")
        if allow_origin != origin:
            raise Deviation(f"Access-Control-Allow-Origin {allow_origin!r}")
        allowed = {
            h.strip().lower()
            for h in response.headers.get("access-control-allow-headers", "").split(",")
        }
        missing = {h.strip() for h in requested.split(",")} - allowed
        if missing:
            raise Deviation(f"headers not allowed: {sorted(missing)}")
        methods = {
            m.strip() for m in response.headers.get("access-control-allow-methods", "").split(",")
        }
        if not {"GET", "POST"} <= methods:
            raise Deviation(f"methods {sorted(methods)}")
        return ""

    async def answer() -> str:
        response = await s.send("POST", "/v1/allocate", s.headers(track=track, token=None))
        s.conforms(response, 401, "UNAUTHORIZED")
        if response.headers.get("access-control-allow-origin") != origin:
            raise Deviation("no Access-Control-Allow-Origin on a 401")
        if "retry-after" not in response.headers.get("access-control-expose-headers", "").lower():
            raise Deviation("Retry-After is not exposed")
        return ""

    async def foreign() -> str:
        response = await s.send(
            "OPTIONS",
            "/v1/allocate",
            {"Origin": FOREIGN_ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        s.conforms(response, 403, "FORBIDDEN")
        if "access-control-allow-origin" in response.headers:
            raise Deviation("a foreign origin was allowed")
        return ""

    await s.check("CORS preflight", route, preflight)
    await s.check("CORS answer", "POST /v1/allocate", answer)
    await s.check("CORS other origin", route, foreign)
