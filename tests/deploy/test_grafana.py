"""deploy/grafana/grantwarden.json: the Grafana dashboard.

Covers: it is a dashboard of a recent schema with the `${DS_PROMETHEUS}` datasource variable used
by every panel and query; the panels the issue asks for are there; panel ids are unique and the
panels tile the 24-column grid without overlapping; every query uses only metrics, labels and
label values of the daemon; every query is PromQL that promtool parses (Grafana's `$` variables
replaced by plausible values).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import DEPLOY, Registry, check_promql, run_promtool

DASHBOARD = DEPLOY / "grafana" / "grantwarden.json"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
# Panel titles the issue asks for, as case-insensitive patterns.
REQUIRED_PANELS = (
    r"tenants by state",
    r"token.*expiry",
    r"probe outcomes",
    r"re-?grants",
    r"rate limit",
    r"event-loop lag",
    r"worker restarts",
    r"config reload",
)
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$tenant": ".+"}


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]


def _queries() -> list[str]:
    exprs = [target["expr"] for panel in _panels() for target in panel["targets"]]
    variables = _dashboard()["templating"]["list"]
    return exprs + [var["definition"] for var in variables if var["type"] == "query"]


def test_the_dashboard_has_a_recent_schema_a_uid_and_a_title() -> None:
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] == "grantwarden"
    assert dashboard["title"]


def test_the_datasource_is_a_prometheus_variable_named_ds_prometheus() -> None:
    variables = {var["name"]: var for var in _dashboard()["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"


def test_every_panel_and_query_reads_from_the_datasource_variable() -> None:
    for panel in _panels():
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    query_variables = [var for var in _dashboard()["templating"]["list"] if var["type"] == "query"]
    assert all(var["datasource"] == DATASOURCE for var in query_variables)


@pytest.mark.parametrize("pattern", REQUIRED_PANELS)
def test_the_dashboard_has_the_panel_the_issue_asks_for(pattern: str) -> None:
    titles = [panel["title"] for panel in _panels()]
    assert any(re.search(pattern, title, re.IGNORECASE) for title in titles), titles


def test_panels_have_unique_ids_and_tile_the_grid_without_overlap() -> None:
    panels = _dashboard()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    taken: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


@pytest.mark.parametrize("expr", _queries())
def test_every_query_uses_only_metrics_labels_and_values_of_the_daemon(expr: str, registry: Registry) -> None:
    assert check_promql(expr, registry) == []


def test_the_tenant_variable_lists_the_tenant_label_of_a_daemon_metric() -> None:
    variables = {var["name"]: var for var in _dashboard()["templating"]["list"]}
    assert variables["tenant"]["definition"] == "label_values(grantwarden_tenant_state, tenant)"


def test_every_query_is_promql_that_promtool_parses(promtool: str, tmp_path: Path) -> None:
    exprs = [target["expr"] for panel in _panels() for target in panel["targets"]]
    for variable, value in GRAFANA_VARIABLES.items():
        exprs = [expr.replace(variable, value) for expr in exprs]
    assert not [expr for expr in exprs if "$" in expr], "a Grafana variable this test does not know"
    rules = {
        "groups": [
            {"name": "dashboard", "rules": [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)]}
        ]
    }
    (tmp_path / "dashboard.rules.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    run_promtool(promtool, "check", "rules", "dashboard.rules.yml", cwd=tmp_path)
