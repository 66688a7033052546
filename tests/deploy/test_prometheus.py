"""deploy/prometheus: the scrape config, the alert rules and their promtool unit tests.

Covers: promtool accepts the rules, the config (its rule file resolving next to it) and passes
alerts.test.yml; the scrape job is `grantwarden` every 15 s on the daemon's port; the alerts of
the issue all exist, each with summary, description and a runbook that names a command, and
each waits (``for``) before it fires, so one bad scrape or one retried failure pages nobody;
every metric, label and label value in the rules (and in the rule tests' input series) is the
daemon's; every alert is shown both firing and not firing by the rule tests.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.support import (
    DEPLOY,
    METRIC_NAME,
    REPO,
    Registry,
    check_promql,
    load_yaml,
    port_of,
    run_promtool,
)

PROMETHEUS = DEPLOY / "prometheus"
REQUIRED_ALERTS = frozenset(
    {
        "GrantwardenTenantNeedsAttention",
        "GrantwardenTokenExpiringSoon",
        "GrantwardenProbesForbidden",
        "GrantwardenRegrantsFailing",
        "GrantwardenReplicaDown",
        "GrantwardenShardsMissing",
    }
)


def _rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(PROMETHEUS / "alerts.yml")["groups"] for rule in group["rules"]]


def _rule_tests() -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = load_yaml(PROMETHEUS / "alerts.test.yml")["tests"]
    return tests


def _scrape_job() -> dict[str, Any]:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == "grantwarden"]
    assert len(jobs) == 1, "prometheus.yml needs exactly one scrape job named grantwarden"
    job: dict[str, Any] = jobs[0]
    return job


def test_promtool_accepts_the_alert_rules(promtool: str) -> None:
    run_promtool(promtool, "check", "rules", "alerts.yml", cwd=PROMETHEUS)


def test_the_alert_rules_pass_their_promtool_unit_tests(promtool: str) -> None:
    run_promtool(promtool, "test", "rules", "alerts.test.yml", cwd=PROMETHEUS)


def test_promtool_accepts_the_prometheus_config_and_finds_its_rule_file(promtool: str) -> None:
    # promtool resolves rule_files relative to the config file, as Prometheus does in compose.
    run_promtool(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"), cwd=REPO)
    assert load_yaml(PROMETHEUS / "prometheus.yml")["rule_files"] == ["alerts.yml"]


def test_prometheus_scrapes_the_daemon_every_15_seconds_on_its_listen_port() -> None:
    job = _scrape_job()
    config = load_yaml(REPO / "config" / "compose.yaml")
    assert job.get("scrape_interval", load_yaml(PROMETHEUS / "prometheus.yml")["global"]["scrape_interval"]) == "15s"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [target for static in job["static_configs"] for target in static["targets"]]
    assert targets == [f"grantwarden:{port_of(config['server']['listen'])}"]


def test_the_alerts_of_the_issue_are_all_defined() -> None:
    names = [rule["alert"] for rule in _rules()]
    assert len(names) == len(set(names)), "an alert name is defined twice"
    assert set(names) >= REQUIRED_ALERTS


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_alert_explains_itself_and_names_the_fix(rule: dict[str, Any]) -> None:
    annotations = rule["annotations"]
    assert {"summary", "description", "runbook"} <= set(annotations)
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert re.search(r"`(grantwarden|kubectl) [^`]+`", annotations["runbook"]), "the runbook names no command"


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_alert_waits_before_it_fires(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"[1-9][0-9]*m", str(rule.get("for", ""))), "an alert without `for:` fires on one evaluation"


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_alert_uses_only_metrics_labels_and_values_of_the_daemon(
    rule: dict[str, Any], registry: Registry
) -> None:
    assert check_promql(rule["expr"], registry) == []


def test_alerts_on_replicas_match_the_scrape_job_name() -> None:
    job_name = _scrape_job()["job_name"]
    jobs = {job for rule in _rules() for job in re.findall(r'\bjob\s*=\s*"([^"]*)"', rule["expr"])}
    assert jobs == {job_name}


def test_the_rule_tests_feed_only_series_the_daemon_exports(registry: Registry) -> None:
    series = [item["series"] for test in _rule_tests() for item in test["input_series"]]
    unknown = sorted({name for text in series for name in METRIC_NAME.findall(text)} - registry.samples)
    assert unknown == []


def test_every_alert_is_shown_firing_and_not_firing_by_the_rule_tests() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for test in _rule_tests():
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in _rules()}
    assert names - firing == set(), "alerts never shown firing"
    assert names - silent == set(), "alerts never shown staying silent"
