"""Test case configurations for FastStream's vendored cases (see conftest.py)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from faststream_base.basic import BaseTestcaseConfig

from faststream_sqs import SQSBroker, SQSRoute, SQSRoutePublisher, SQSRouter, TestSQSBroker

NO_REQUEST_REPLY = "SQS has no request/reply: request() raises NotImplementedError"


class SQSConfig(BaseTestcaseConfig[SQSBroker]):
    """Brokers on the queue-creating moto server: the memory cases patch them
    (TestSQSBroker), and the few cases that run a broker unpatched (`with_real`, the
    local router and parser cases) reach moto, as FastStream's reach a local server."""

    route_class = SQSRoute
    publisher_class = SQSRoutePublisher
    timeout = 5.0
    endpoint_url = ""

    @pytest.fixture(autouse=True)
    def _endpoint(self, creating_moto_url: str) -> None:
        self.endpoint_url = creating_moto_url

    def get_broker(self, apply_types: bool = False, **kwargs: Any) -> SQSBroker:
        kwargs.setdefault("graceful_timeout", 3.0)
        return SQSBroker(self.endpoint_url, "us-east-1", apply_types=apply_types, **kwargs)

    # A subscriber polls with 1 s long polls so the cases' short timeouts hold on moto;
    # no in-place retry backoff (a case's failing handler is retried at once).
    subscriber_defaults: dict[str, Any] = {"wait_time_s": 1, "retry_backoff_s": 0.0}

    def get_subscriber_params(
        self, *args: Any, **kwargs: Any
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return args, {**self.subscriber_defaults, **kwargs}

    def get_router(self, **kwargs: Any) -> SQSRouter:
        return SQSRouter(**kwargs)


class SQSMemoryConfig(SQSConfig):
    def patch_broker(self, *brokers: SQSBroker, **kwargs: Any) -> AbstractAsyncContextManager[Any]:
        return TestSQSBroker(*brokers, **kwargs)


class SQSRealConfig(SQSConfig):
    """Patches nothing: every case talks to moto."""
