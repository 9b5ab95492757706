"""Where lease events go locally: always a log line ``event=lease_event``, and a webhook.

With ``BROKER_EVENTS_WEBHOOK_URL`` set, each event is POSTed there as JSON (the
``LeaseEvent`` body, header ``X-Event-Id``). A POST that fails (connection refused, a
timeout, any non-2xx answer) is retried with jittered exponential backoff (stamina) until
it succeeds: the stream reader does not move its checkpoint past an event that was not
delivered, so a webhook that is down loses nothing — it receives the backlog, in order,
once it answers again. Delivery is at least once: receivers deduplicate on ``id``.
"""

from __future__ import annotations

from typing import Final

import httpx
import stamina
import structlog

from schemas.events import LeaseEvent

log = structlog.get_logger(__name__)

#: Longest wait between two attempts of one POST (a webhook back up is served this soon).
RETRY_WAIT_MAX_S: Final = 5.0
POST_TIMEOUT_S: Final = 10.0


class WebhookError(Exception):
    """The webhook did not take the event (a non-2xx answer)."""


class EventPublisher:
    def __init__(
        self,
        *,
        webhook_url: str | None,
        http: httpx.AsyncClient | None = None,
        wait_initial_s: float = 0.1,
        wait_max_s: float = RETRY_WAIT_MAX_S,
    ) -> None:
        self._url = webhook_url
        self._http = http
        self._wait_initial_s = wait_initial_s
        self._wait_max_s = wait_max_s
        self.delivered = 0

    async def publish(self, events: list[LeaseEvent]) -> None:
        """Log and deliver every event, in order; returns once all of them were taken."""
        for event in events:
            log.info(
                "lease_event",
                event_id=event.id,
                event_type=event.type.value,
                sandbox_id=event.sandbox_id,
                track_id=event.track_id,
                tenant=event.tenant,
            )
            if self._url is not None:
                await self._post(event)
            self.delivered += 1

    async def _post(self, event: LeaseEvent) -> None:
        assert self._http is not None
        assert self._url is not None
        body = event.model_dump(mode="json")
        failures = 0
        async for attempt in stamina.retry_context(
            on=(httpx.HTTPError, WebhookError),
            attempts=None,
            timeout=None,
            wait_initial=self._wait_initial_s,
            wait_max=self._wait_max_s,
        ):
            with attempt:
                try:
                    response = await self._http.post(
                        self._url,
                        json=body,
                        headers={"X-Event-Id": event.id},
                        timeout=POST_TIMEOUT_S,
                    )
                    if not response.is_success:
                        raise WebhookError(f"webhook answered {response.status_code}")
                except (httpx.HTTPError, WebhookError) as exc:
                    failures += 1
                    if failures == 1 or failures % 10 == 0:
                        log.warning(
                            "webhook_failed",
                            outcome="retry",
                            event_id=event.id,
                            attempts=failures,
                            error=f"{type(exc).__name__}: {str(exc)[:200]}",
                        )
                    raise
        if failures:
            log.info("webhook_recovered", event_id=event.id, attempts=failures + 1)
