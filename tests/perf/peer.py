"""Benchmark 5, peer: Debian's prometheus-blackbox-exporter probing the same endpoints.

Workload: one simulator process with 10 generated tenants. grantwarden (``python -m grantwarden run``)
probes tenants 0–4; the blackbox exporter probes tenants 5–9, one ``http`` module per tenant
with ``oauth2`` client credentials (``token_url`` = the simulator's ``/oauth/token``), the
identity target also checking that the answer names the tenant's org. This process plays
Prometheus and asks the exporter for the same six targets per tenant every 5 s, grantwarden's
``probe_interval``. Both run side by side for a measured window; then the role "Messaging
Viewer" is removed from tenant 0's and tenant 5's clients (``/__sim/clients/{id}/drift``) and
both are read again after two intervals. grantwarden runs with ``regrant.dry_run`` so that the
refusal stays visible (without it, it would re-grant the role).

Figures: token requests per probe (the simulator's request log by client id), CPU per probe
(``/proc/PID/stat`` of each process over the window) and what each reports after the drift.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import shutil
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from grantwarden.config import models as settings
from grantwarden.policy import catalog
from grantwarden.simulator import tenancy
from tests.perf import common

TENANTS = 40  # 20 a side: ~480 probes each in the window, so CPU ticks (10 ms) blur under 5 %
OURS = range(20)
THEIRS = range(20, 40)
INTERVAL_S = 5.0
WINDOW_S = 20.0
ROLE = "Messaging Viewer"
EXPORTER = "prometheus-blackbox-exporter"
_SAMPLE = re.compile(r"^(probe_success|probe_http_status_code) ([0-9.e+-]+)$", re.MULTILINE)


def exporter_config(tenants: list[dict[str, Any]], env: dict[str, str]) -> dict[str, Any]:
    modules: dict[str, Any] = {}
    for index, tenant in zip(THEIRS, tenants, strict=True):
        oauth2 = {
            "client_id": tenant["credentials"]["client_id"],
            "client_secret": env[tenant["credentials"]["client_secret"]["env"]],
            "token_url": tenant["login_base_url"].rstrip("/") + "/oauth/token",
        }
        http = {"method": "GET", "valid_status_codes": [200], "preferred_ip_protocol": "ip4", "oauth2": oauth2}
        modules[f"t{index}"] = {"prober": "http", "timeout": "4s", "http": http}
        modules[f"t{index}_identity"] = {
            "prober": "http",
            "timeout": "4s",
            "http": {**http, "fail_if_body_not_matches_regexp": [re.escape(tenant["org_id"])]},
        }
    return {"modules": modules}


def targets(tenant: dict[str, Any], index: int) -> list[tuple[str, str, str]]:
    """(probe name, module, target URL) for the tenant's six probes."""
    base = tenant["api_base_url"].rstrip("/")
    found = []
    for name in tenancy.DEFAULT_PROBES:
        module = f"t{index}_identity" if name == catalog.TOKEN else f"t{index}"
        found.append((name, module, base + catalog.BUILTIN[name].path))
    return found


def scrape(exporter_url: str, module: str, target: str) -> dict[str, float]:
    query = urllib.parse.urlencode({"module": module, "target": target})
    status, body, _ = common.get(f"{exporter_url}/probe?{query}", timeout_s=10)
    values = {name: float(value) for name, value in _SAMPLE.findall(body.decode(errors="replace"))}
    return {"scrape_status": float(status), **values}


class Prometheus:
    """Asks the exporter for every target on a fixed schedule, as a Prometheus scrape would."""

    def __init__(self, exporter_url: str, jobs: dict[int, list[tuple[str, str, str]]]) -> None:
        self.url = exporter_url
        self.jobs = jobs
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=12)
        self.last: dict[tuple[int, str], dict[str, float]] = {}
        self.scrapes = 0

    def round(self) -> None:
        futures = {
            self.pool.submit(scrape, self.url, module, target): (index, name)
            for index, job in self.jobs.items()
            for name, module, target in job
        }
        for future, key in futures.items():
            self.last[key] = future.result()
            self.scrapes += 1

    def run_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        next_round = time.monotonic()
        while next_round < deadline:
            self.round()
            next_round += INTERVAL_S
            time.sleep(max(0.0, min(next_round, deadline) - time.monotonic()))


def probes_by_client(entries: list[dict[str, Any]], clients: set[str], since: float, until: float) -> dict[str, int]:
    """Token and API requests of ``clients`` in the simulator's log between two of its times."""
    chosen = [e for e in entries if e["client_id"] in clients and since <= e["time"] <= until]
    return {
        "token_requests": sum(1 for e in chosen if e["kind"] == "token"),
        "api_requests": sum(1 for e in chosen if e["kind"] == "api"),
    }


def side(cpu_s: float, counted: dict[str, int]) -> dict[str, Any]:
    probes = max(counted["api_requests"], 1)
    return {
        **counted,
        "cpu_s": round(cpu_s, 3),
        "token_requests_per_probe": round(counted["token_requests"] / probes, 3),
        "cpu_ms_per_probe": round(1000 * cpu_s / probes, 2),
    }


def grantwarden_finding(view: dict[str, Any]) -> dict[str, Any]:
    failing = {
        p["probe"]: {"outcome": p["outcome"], "http_status": p["http_status"], "code": p["code"]}
        for p in view.get("probes", [])
        if p.get("outcome") != "ok"
    }
    findings = [
        {key: f.get(key) for key in ("probe", "outcome", "missing", "fixable", "fix")} for f in view.get("findings", [])
    ]
    return {"state": view.get("state"), "failing_probes": failing, "findings": findings}


def run(workdir: Path) -> common.Result:
    workload = (
        f"{len(OURS)} tenants probed by grantwarden and {len(THEIRS)} by {EXPORTER} (oauth2 client credentials), "
        f"6 probes per tenant every {INTERVAL_S:g} s each, {WINDOW_S:g} s measured window; then a role is removed"
    )
    started = common.announce("peer: blackbox exporter", workload)
    exporter = shutil.which(EXPORTER)
    if exporter is None:
        raise RuntimeError(f"{EXPORTER} is not installed (make system-deps installs it)")
    sim = common.start_simulator(workdir, tenants=TENANTS, seed=5, request_log=200_000)
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        emitted = yaml.load(sim.config.read_text(), Loader=loader)
        tenants = emitted["tenants"]
        port, exporter_port = common.free_port(), common.free_port()
        ours_cfg = {
            **emitted,
            "tenants": [tenants[i] for i in OURS],
            "server": {"listen": f"127.0.0.1:{port}"},
            "logging": {"level": "info", "format": "json"},
            "defaults": {"probe_interval": f"{INTERVAL_S:g}s", "probe_timeout": "4s", "regrant": {"dry_run": True}},
        }
        config = workdir / "peer-grantwarden.yaml"
        config.write_text(yaml.safe_dump(ours_cfg, sort_keys=False))
        bb_config = workdir / "blackbox.yml"
        bb_config.write_text(yaml.safe_dump(exporter_config([tenants[i] for i in THEIRS], sim.env)))
        bb_argv = [exporter, f"--config.file={bb_config}", f"--web.listen-address=127.0.0.1:{exporter_port}"]
        bb_argv.append("--log.level=warn")
        daemon_argv = [common.PYTHON, "-m", "grantwarden", "run", "--config", str(config)]
        with (
            common.running(common.start_daemon(workdir, config, sim.env)) as daemon,
            common.running(common.spawn("blackbox", bb_argv, workdir=workdir)) as blackbox,
        ):
            url, exporter_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{exporter_port}"
            common.wait_until(lambda: common.ready(url), timeout_s=60, what="grantwarden /readyz")
            common.wait_until(lambda: common.get(exporter_url + "/metrics")[0] == 200, timeout_s=30, what="exporter")
            prometheus = Prometheus(exporter_url, {i: targets(tenants[i], i) for i in THEIRS})
            prometheus.round()  # first connections and tokens outside the window
            sim_t0, t0 = sim.counts()["sim_now"], time.monotonic()
            cpu0 = (common.cpu_seconds(daemon.pid), common.cpu_seconds(blackbox.pid))
            scrapes0 = prometheus.scrapes
            prometheus.run_for(WINDOW_S)
            cpu1 = (common.cpu_seconds(daemon.pid), common.cpu_seconds(blackbox.pid))
            window_s = time.monotonic() - t0
            sim_t1 = sim.counts()["sim_now"]
            scrapes = prometheus.scrapes - scrapes0
            for index in (OURS[0], THEIRS[0]):
                client_id = tenants[index]["credentials"]["client_id"]
                sim.control(f"/__sim/clients/{client_id}/drift", {"action": "remove_role", "role": ROLE})
            prometheus.run_for(2 * INTERVAL_S + 1)
            blackbox_view = {name: prometheus.last[(THEIRS[0], name)] for name in tenancy.DEFAULT_PROBES}
            status_code, status_body, _ = common.get(f"{url}/status/{tenants[OURS[0]]['name']}")
            ours_view = json.loads(status_body)["tenants"][0] if status_code == 200 else {"error": status_code}
        entries = sim.requests()
    finally:
        sim.proc.stop()
    clients = {
        name: {tenants[i]["credentials"]["client_id"] for i in group}
        for name, group in (("ours", OURS), ("theirs", THEIRS))
    }
    ours = side(cpu1[0] - cpu0[0], probes_by_client(entries, clients["ours"], sim_t0, sim_t1))
    theirs = side(cpu1[1] - cpu0[1], probes_by_client(entries, clients["theirs"], sim_t0, sim_t1))
    theirs["scrapes_sent"] = scrapes
    failed = {
        name: {"probe_success": v.get("probe_success"), "probe_http_status_code": v.get("probe_http_status_code")}
        for name, v in blackbox_view.items()
        if v.get("probe_success") != 1.0
    }
    detection = {"blackbox": failed, "grantwarden": grantwarden_finding(ours_view)}
    whole_run = probes_by_client(entries, clients["ours"], 0.0, float("inf"))
    ours["whole_run_token_requests_per_probe"] = round(whole_run["token_requests"] / whole_run["api_requests"], 4)
    # Steady state: one token per tenant per refresh period (24 h tokens refreshed 5-10 minutes,
    # on average 1.5 x max_lead, before expiry at the defaults) for 6 probes per interval.
    period_s = 86_400 - 1.5 * settings.RefreshSettings().max_lead
    probes_per_token = 6 * period_s / INTERVAL_S
    ours["steady_state_token_requests_per_probe"] = round(1 / probes_per_token, 7)
    token_ratio = theirs["token_requests_per_probe"] * probes_per_token
    cpu_ratio = theirs["cpu_ms_per_probe"] / max(ours["cpu_ms_per_probe"], 1e-9)
    result = common.Result("peer", workload, "")
    result.figures = {
        "window_s": round(window_s, 1),
        "grantwarden": ours,
        "blackbox": theirs,
        "token_requests_per_probe_ratio_blackbox_over_grantwarden": round(token_ratio, 1),
        "cpu_per_probe_ratio_blackbox_over_grantwarden": round(cpu_ratio, 2),
        "after_role_removed": detection,
    }
    found = detection["grantwarden"]["findings"]
    result.targets = [
        common.Target("grantwarden token requests per probe (window)", ours["token_requests_per_probe"], "", "—", None),
        common.Target(
            "grantwarden token requests per probe (whole run, initial mints)",
            ours["whole_run_token_requests_per_probe"],
            "",
            "—",
            None,
        ),
        common.Target("blackbox token requests per probe", theirs["token_requests_per_probe"], "", "—", None),
        common.Target("grantwarden CPU per probe", ours["cpu_ms_per_probe"], "ms", "—", None),
        common.Target("blackbox CPU per probe", theirs["cpu_ms_per_probe"], "ms", "—", None),
        common.Target("CPU per probe, blackbox/grantwarden", round(cpu_ratio, 2), "", "—", None),
        common.Target(
            "token requests per probe, blackbox/grantwarden (steady state)", round(token_ratio), "", "—", None
        ),
    ]
    result.notes += [
        "blackbox after the role removal: "
        + (
            ", ".join(
                f"{n}: success {v['probe_success']:g}, HTTP {v['probe_http_status_code']:g}" for n, v in failed.items()
            )
            or "nothing failed"
        ),
        f"grantwarden after the role removal: state {detection['grantwarden']['state']}; "
        + "; ".join(
            f"{f['probe']}: {f['outcome']}, missing {', '.join(f['missing'] or [])}, fix: {f['fix']}" for f in found
        ),
    ]
    result.commands = [common.command_line(daemon_argv), common.command_line(bb_argv)]
    result.headline = (
        f"token requests per probe: blackbox {theirs['token_requests_per_probe']:.3f}, grantwarden "
        f"{ours['token_requests_per_probe']:.3f} in the window ({ours['whole_run_token_requests_per_probe']} "
        f"over the run with its initial mints; 1 per {probes_per_token:,.0f} probes in steady state); "
        f"CPU per probe: blackbox {theirs['cpu_ms_per_probe']} ms, "
        f"grantwarden {ours['cpu_ms_per_probe']} ms ({cpu_ratio:.2f}x)"
    )
    return common.finish(result, started)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gw-bench-peer-") as tmp:
        run(Path(tmp))


if __name__ == "__main__":
    main()
