"""The embedded moto's latency knob: AWS-like service latency, off unless asked for."""

from __future__ import annotations

import time

import httpx
import pytest

from infra.embedded.moto import AWS_LATENCY_MS, FAULTS_PATH

pytestmark = pytest.mark.integration


async def test_injected_latency_delays_the_named_calls_and_clears(moto_url: str, ddb) -> None:
    faults = moto_url + FAULTS_PATH
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(faults, json={})).json()["latency"] == {}  # off by default
        state = (await http.post(faults, json={"latency": "aws"})).json()
        assert state["latency"] == AWS_LATENCY_MS
        try:
            await http.post(faults, json={"latency": {"DynamoDB_20120810.ListTables": 300}})
            started = time.monotonic()
            await ddb.list_tables(Limit=1)
            assert time.monotonic() - started >= 0.3
            # a throttle change leaves the latency as it is
            state = (await http.post(faults, json={"dynamodb_throttle_rate": 0})).json()
            assert state["latency"] == {"DynamoDB_20120810.ListTables": 300}
        finally:
            state = (await http.post(faults, json={"latency": None})).json()
        assert state["latency"] == {}
