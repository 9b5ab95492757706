"""Load options: one pacing, bounded runs, loopback only, readable errors."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from producers.loadgen.options import LoadOptions, Target, parse_rate

GATEWAY = {"gateway_url": "http://127.0.0.1:8000", "token": "t"}


@pytest.mark.parametrize(
    ("text", "per_s"),
    [("200/min", 200 / 60), ("5/s", 5.0), ("7", 7.0), ("1.5 / m", 1.5 / 60), (3, 3.0)],
)
def test_rates_are_read_per_second_or_per_minute(text, per_s) -> None:
    assert parse_rate(text) == pytest.approx(per_s)


def test_a_rate_given_as_text_is_converted_on_the_model() -> None:
    assert LoadOptions(rate="120/min", **GATEWAY).rate == pytest.approx(2.0)


@pytest.mark.parametrize(
    "pacing",
    [
        {},
        {"burst": True, "rate": 5},
        {"concurrency": 3, "rate": 1},
        {"burst": True, "concurrency": 2},
    ],
)
def test_exactly_one_pacing_is_required(pacing) -> None:
    with pytest.raises(ValidationError, match="exactly one of rate, concurrency or burst"):
        LoadOptions(**GATEWAY, **pacing)


def test_bad_rate_text_is_refused_with_its_form() -> None:
    with pytest.raises(ValidationError, match="expected N, N/s or N/min"):
        LoadOptions(rate="fast", **GATEWAY)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5:8000", "https://example.com", "http://192.168.1.2", "http://"]
)
def test_only_loopback_targets_are_accepted(url) -> None:
    with pytest.raises(ValidationError, match="loopback"):
        LoadOptions(burst=True, gateway_url=url, token="t")


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://localhost:8000", "http://[::1]:9"])
def test_loopback_spellings_are_accepted(url) -> None:
    assert LoadOptions(burst=True, gateway_url=url, token="t").gateway_url == url


def test_every_run_is_bounded() -> None:
    with pytest.raises(ValidationError):
        LoadOptions(burst=True, requests=1_000_001, **GATEWAY)
    with pytest.raises(ValidationError):
        LoadOptions(burst=True, duration_s=86_400, **GATEWAY)


def test_targets_need_their_endpoints() -> None:
    with pytest.raises(ValidationError, match="needs the track token"):
        LoadOptions(burst=True, gateway_url="http://127.0.0.1:1")
    with pytest.raises(ValidationError, match="needs aws_endpoint_url"):
        LoadOptions(burst=True, target=Target.QUEUE)


def test_poison_goes_only_straight_to_the_queue() -> None:
    with pytest.raises(ValidationError, match="use target queue"):
        LoadOptions(burst=True, poison_rate=0.01, **GATEWAY)


def test_poison_is_spread_evenly_at_its_rate() -> None:
    options = LoadOptions(
        target=Target.QUEUE,
        aws_endpoint_url="http://127.0.0.1:5000",
        burst=True,
        requests=1000,
        poison_rate=0.01,
    )
    poisoned = [i for i in range(1000) if options.poisoned(i)]
    assert len(poisoned) == 10
    assert all(b - a == 100 for a, b in itertools.pairwise(poisoned))
