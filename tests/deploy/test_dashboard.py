"""The Grafana dashboard is a dashboard model whose queries name only series the processes expose:
the metric names are scraped from running services and a running gateway, not listed by hand."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServiceStack
from tests.support.database import PROJECT_ROOT
from tests.support.polling import eventually_sync
from tests.support.processes import free_port, start_python_module

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "rollcall.json"

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*")
_PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "stddev",
    "rate", "irate", "increase", "delta", "deriv", "histogram_quantile", "clamp_min", "clamp_max",
    "abs", "round", "label_replace", "absent", "and", "or", "unless", "bool", "offset",
}  # fmt: skip
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}


def exposed_names(text: str) -> set[str]:
    """Series names of an exposition: every sample's name, and those its TYPE lines imply (a
    labelled metric not used yet shows only its TYPE line)."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            base = name.removesuffix("_total") if kind == "counter" else name
            names.update(base + suffix for suffix in _SUFFIXES.get(kind, ()))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    for pattern in (_STRINGS, _MATCHERS, _RANGES, _GROUPING):
        expr = pattern.sub(" ", expr)
    return {word for word in _IDENTIFIER.findall(expr) if word not in _PROMQL_WORDS}


def _targets(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            found.append((panel["title"], target["expr"]))
    return found


@pytest.fixture(scope="module")
def exposed(services: ServiceStack) -> Iterator[set[str]]:
    """Metric names on /metrics of both gRPC services and of a gateway in front of them."""
    port = free_port()
    env = {
        **services.env,
        "ROLLCALL_GATEWAY_PORT": str(port),
        "ROLLCALL_REGISTRATION_TARGET": services.registration_target,
        "ROLLCALL_ATTENDANCE_TARGET": services.attendance_target,
    }
    gateway = start_python_module("gateway-dashboard", "gateway", env)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        eventually_sync(answers, within=30, what="gateway answering")
        names: set[str] = set()
        for metrics_url in (
            f"http://127.0.0.1:{services.env['ROLLCALL_REGISTRATION_METRICS_PORT']}/metrics",
            f"http://127.0.0.1:{services.env['ROLLCALL_ATTENDANCE_METRICS_PORT']}/metrics",
            f"{url}/metrics",
        ):
            response = httpx.get(metrics_url, timeout=5)
            response.raise_for_status()
            names |= exposed_names(response.text)
        yield names
    finally:
        gateway.stop()


def test_the_dashboard_is_a_grafana_model_with_queries_in_every_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text())

    assert dashboard["uid"]
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    graphs = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(graphs) >= 10
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in graphs:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]


def test_every_query_reads_only_series_the_processes_expose(exposed: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    used: set[str] = set()
    for title, expr in _targets(dashboard):
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        assert names <= exposed, f"{title}: {sorted(names - exposed)} not on any /metrics"
        used |= names

    # The concerns operators asked for each have a panel.
    assert {
        "rollcall_rpc_requests_total",
        "rollcall_rpc_latency_seconds_bucket",
        "rollcall_zoom_requests_total",
        "rollcall_zoom_rate_limited_total",
        "rollcall_zoom_pacing_backlog_seconds",
        "rollcall_zoom_daily_remaining",
        "rollcall_registration_job_items",
        "rollcall_attendance_sync_lag_seconds_bucket",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    } <= used


def test_the_query_parser_finds_metric_names_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, method) (rate(rollcall_rpc_latency_seconds_bucket{method!~".*Watch.*"}'
        "[$__rate_interval]))) / clamp_min(sum(rate(rollcall_rpc_requests_total[5m])), 1e-9)"
    )
    assert metric_names(expr) == {"rollcall_rpc_latency_seconds_bucket", "rollcall_rpc_requests_total"}
