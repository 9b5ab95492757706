"""Client settings of infra's entry points (provisioning, the scheduler, ``up``, ``pool seed``).

The clients come from ``consumers/stores/clients.py``, the one factory every process uses.
"""

from __future__ import annotations

from typing import Final

from aiobotocore.config import AioConfig

from consumers.stores.clients import client_config

#: Standard retries absorb DynamoDB throttling and SQS hiccups on AWS; short timeouts keep a
#: CLI against an unreachable endpoint from hanging.
CLIENT_CONFIG: Final[AioConfig] = client_config(
    connect_timeout_s=5, read_timeout_s=30, max_attempts=3
)
