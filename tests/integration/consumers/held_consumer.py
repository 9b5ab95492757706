"""A consumer that holds every request after its reply is written and before the ack.

``python -m tests.integration.consumers.held_consumer SECONDS``: the fault tests' own entry
point. It runs the real consumer process (settings from BROKER_*, as ``sandbox-broker
consumer``) with the ``after_request`` hook, so a test can SIGKILL it between claim and ack;
production settings have no such knob.
"""

from __future__ import annotations

import asyncio
import sys

from consumers.app import ConsumerHooks
from infra.consumer import run_consumer
from infra.logging import configure_logging
from schemas.messages import RequestMessage
from schemas.settings import ConsumerSettings


def main(hold_s: float) -> None:
    settings = ConsumerSettings()
    configure_logging(settings.log_format, settings.log_level)

    async def hold(_: RequestMessage) -> None:
        await asyncio.sleep(hold_s)

    run_consumer(settings, hooks=ConsumerHooks(after_request=hold))


if __name__ == "__main__":
    main(float(sys.argv[1]))
