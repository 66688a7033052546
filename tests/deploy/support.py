"""Helpers of the deploy/ checks: paths, the daemon's metric vocabulary, promtool, the CLI.

Everything here is static: files are parsed, never deployed. The metric names and label values
come from the daemon itself (``grantwarden.telemetry.metrics.Metrics`` on a fresh registry, ``labels`` enums),
so an alert rule or dashboard panel that drifts from design.md §2.4 fails here, not in a
Prometheus that silently evaluates to nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
import yaml

from grantwarden import cli
from grantwarden.policy import labels
from grantwarden.simulator import serving as simulator_serving
from grantwarden.telemetry import exposition, metrics

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

# design.md §2.1: the commands of the contract. A command used by a deployment file must be one
# of these, and grantwarden.cli must define it.
CONTRACT_COMMANDS = frozenset({"run", "check", "plan", "authorize", "validate-config", "simulate", "demo"})

# Labels that Prometheus adds to every scraped series, or that PromQL functions produce.
TARGET_LABELS = frozenset({"job", "instance", "le"})

# Label values the alert rules and dashboard may match, per (sample, label): the daemon's vocabulary.
LABEL_VOCABULARY: Mapping[tuple[str, str], frozenset[str]] = {
    ("grantwarden_tenant_state", "state"): frozenset(labels.State),
    ("grantwarden_probe_outcomes_total", "outcome"): frozenset(labels.Outcome),
    ("grantwarden_token_requests_total", "result"): frozenset(labels.TokenResult),
    ("grantwarden_regrants_total", "result"): frozenset(labels.RegrantResult),
}

_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}
METRIC_NAME = re.compile(r"\bgrantwarden_[a-z0-9_]*[a-z0-9]\b")
SELECTOR = re.compile(r"\b(grantwarden_[a-z0-9_]*[a-z0-9])\s*\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


@dataclasses.dataclass(frozen=True)
class Registry:
    """The daemon's metrics as Prometheus exposes them: sample names and label names."""

    samples: frozenset[str]
    label_names: Mapping[str, frozenset[str]]  # sample name -> its labels (without job, instance)


def build_registry() -> Registry:
    """The daemon's metrics on a fresh registry, as Prometheus would scrape them."""
    collectors = prometheus_client.CollectorRegistry()
    built = metrics.Metrics(registry=collectors)
    label_names: dict[str, frozenset[str]] = {}
    for family in collectors.collect():
        names = _labels_of(built, family.name)
        for suffix in _SAMPLE_SUFFIXES[family.type]:
            extra = {"le"} if suffix == "_bucket" else set()
            label_names[family.name + suffix] = names | extra
    return Registry(frozenset(label_names), label_names)


def _labels_of(built: metrics.Metrics, family_name: str) -> frozenset[str]:
    for family in exposition.FAMILIES:  # the per-tenant families
        if family.name == family_name:
            return frozenset(family.labels)
    for value in vars(built).values():
        if isinstance(value, prometheus_client.metrics.MetricWrapperBase) and value._name == family_name:
            # prometheus_client keeps the label names here, with no public accessor (as in metrics.py)
            return frozenset(value._labelnames)
    return frozenset()


def check_promql(expr: str, registry: Registry) -> list[str]:
    """Problems of one PromQL expression against the daemon's metrics; empty when it fits."""
    names = METRIC_NAME.findall(expr)
    problems = [
        f"{name} is not a metric of daemon/grantwarden/telemetry/metrics.py"
        for name in names
        if name not in registry.samples
    ]
    used = {name for name in names if name in registry.samples}
    known_labels = set(TARGET_LABELS).union(*(registry.label_names[name] for name in used))
    for name, body in SELECTOR.findall(expr):
        if name not in registry.samples:
            continue
        for label, _op, value in MATCHER.findall(body):
            if label not in registry.label_names[name] | TARGET_LABELS:
                problems.append(f"{name} has no label {label!r}")
            vocabulary = LABEL_VOCABULARY.get((name, label))
            if vocabulary is not None:
                problems += [
                    f"{label}={v!r} is not a value the daemon uses" for v in value.split("|") if v not in vocabulary
                ]
    if used:
        for group in GROUPING.findall(expr):
            problems += [
                f"grouping label {label!r} is on none of {sorted(used)}"
                for label in (part.strip() for part in group.split(","))
                if label and label not in known_labels
            ]
    return problems


def run_promtool(promtool: str, *args: str, cwd: Path) -> None:
    done = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def port_of(listen: str) -> int:
    """The port of a HOST:PORT listen address."""
    return int(listen.rsplit(":", 1)[1])


def cli_subcommands() -> frozenset[str]:
    for action in cli.build_parser()._actions:  # argparse exposes subparsers only this way
        if isinstance(action, argparse._SubParsersAction):
            return frozenset(action.choices)
    return frozenset()


def assert_cli_accepts(argv: Sequence[str]) -> None:
    """``grantwarden ARGV`` parses (``simulate`` with the simulator's own parser, as main() does)."""
    command = argv[0]
    assert command in CONTRACT_COMMANDS, f"{command!r} is not a command of design.md §2.1"
    assert command in cli_subcommands(), f"`grantwarden {command}` is in design.md §2.1 but not in grantwarden.cli"
    try:
        if command == "simulate":
            simulator_serving.parser().parse_args(list(argv[1:]))
        else:
            cli.build_parser().parse_args(list(argv))
    except SystemExit as exc:
        pytest.fail(f"`grantwarden {' '.join(argv)}` is rejected by grantwarden.cli (exit {exc.code})")


def validate_config(path: Path, environ: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``grantwarden validate-config PATH`` as a user runs it, with exactly ``environ`` (and the
    ``PYTHONPATH`` the tests run with, so that the code under test answers, not an installed copy)."""
    env = {"PATH": "/usr/bin:/bin", **environ}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(
        [sys.executable, "-m", "grantwarden", "validate-config", str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
