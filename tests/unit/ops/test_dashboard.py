"""The Grafana dashboard parses and only charts metrics the code defines (issue 6, proof 6)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "infra" / "grafana" / "dashboard.json"
#: prometheus_client metric definitions: Counter("name", ...), Gauge(\n "name", ...), ...
DEFINITION = re.compile(
    r"\b(?:Counter|Gauge|Histogram|Summary|Info|Enum)\(\s*\"([a-zA-Z_:][\w:]*)\""
)
REFERENCE = re.compile(r"\b((?:broker|http)_[a-z0-9_]+)\b")


def defined_metrics() -> set[str]:
    names: set[str] = set()
    for package in ("consumers", "producers", "faststream_sqs"):
        for path in (ROOT / package).rglob("*.py"):
            names.update(DEFINITION.findall(path.read_text()))
    return names


def exposed(name: str, defined: set[str]) -> bool:
    """Whether a series name is one a defined metric exposes (suffixes included)."""
    candidates = {name}
    for suffix in ("_total", "_bucket", "_sum", "_count", "_created"):
        if name.endswith(suffix):
            candidates.add(name.removesuffix(suffix))
    return bool(candidates & defined)


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_is_valid_json_with_unique_panel_ids_and_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert any(v["type"] == "datasource" for v in dashboard["templating"]["list"])
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}"


def test_every_metric_the_dashboard_charts_is_defined_in_the_code() -> None:
    defined = defined_metrics()
    referenced = {name for expr in expressions() for name in REFERENCE.findall(expr)}
    assert referenced, "the dashboard charts nothing"
    missing = sorted(n for n in referenced if not exposed(n, defined))
    assert not missing, f"charted but defined nowhere: {missing}"


def test_dashboard_covers_what_an_operator_needs() -> None:
    charted = " ".join(expressions())
    for metric in (
        "broker_allocate_total",
        "broker_request_e2e_latency_seconds_bucket",
        "broker_queue_messages",
        "broker_queue_oldest_age_seconds",
        "broker_dlq_messages",
        "broker_pool_sandboxes",
        "broker_csp_circuit_state",
    ):
        assert metric in charted, metric
    assert "histogram_quantile(0.99" in charted
