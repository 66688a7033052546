"""Benchmark 4, cold start: many tenants starting together respect the minting rate, draw no 429.

Two runs, each a simulator process and the daemon (``tests.perf.daemon_child``) started cold:

* scaled: 10,000 tenants, ``minting.rate_per_second`` 200 (burst 20), the simulator's global
  minting limit 250/s, ``probe_interval`` 20 s; runs until ``/readyz`` is 200 (at most 120 s
  after the listener opens; later is reported as not ready). At the default
  20/s the same start needs about 10,000/20 = 500 s of minting, too long for ``make bench``; the
  rate respected here and the projection to 20/s are reported instead.
* default rate: 300 tenants, the default ``minting`` section (``settings.MintingSettings``), the simulator's
  limit 25/s (just above), ``probe_interval`` 5 s so that tenants want tokens faster than 20/s.

The daemon's process records when its ``MintLimiter`` lets each token request go, and the
simulator the arrival of every token request and every 429 it answers. Figures: the most
requests let go in any 1 s (sliding) window (the target: rate + burst), the most arriving in
any 1 s window and in the simulator's own fixed windows (arrivals bunch by network and
connection-pool jitter), the mean rate over the minting phase, 429s, and the time from start to
``/readyz`` = 200.
"""

from __future__ import annotations

import bisect
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from grantwarden.config import models as settings
from tests.perf import common

SCALED = {"tenants": 10_000, "rate": 200, "burst": 20, "sim_limit": 250, "interval": 20.0, "ready_within": 120.0}
_MINTING = settings.MintingSettings()  # the defaults the second run leaves in place
DEFAULT = {
    "tenants": 300,
    "rate": _MINTING.rate_per_second,
    "burst": _MINTING.burst,
    "sim_limit": 25,
    "interval": 5.0,
    "ready_within": 60.0,
}
DEFAULT_RATE = 20.0


def busiest_second(times: list[float]) -> int:
    """The most events in any window of one second (sliding)."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered)), default=0)


def fixed_windows(times: list[float]) -> int:
    """The most events in one of the simulator's fixed 1 s windows (each opens at its first event)."""
    best, start, count = 0, None, 0
    for t in sorted(times):
        if start is None or t >= start + 1.0:
            start, count = t, 0
        count += 1
        best = max(best, count)
    return best


def run_one(workdir: Path, spec: dict[str, Any], *, default_minting: bool) -> dict[str, Any]:
    tenants = int(spec["tenants"])
    sim = common.start_simulator(
        workdir, tenants=tenants, seed=tenants + 1, mints_per_second=int(spec["sim_limit"]), request_log=1000
    )
    port = common.free_port()
    url = f"http://127.0.0.1:{port}"
    extra: dict[str, Any] = {
        "server": {"listen": f"127.0.0.1:{port}"},
        "logging": {"level": "info", "format": "json"},
        "defaults": {"probe_interval": f"{spec['interval']:g}s", "probe_timeout": "4s"},
    }
    if not default_minting:
        extra["minting"] = {"rate_per_second": spec["rate"], "burst": spec["burst"]}
    config = common.write_config(sim.config, workdir / "coldstart.yaml", extra)
    out = workdir / "child.json"
    argv = [common.PYTHON, "-m", "tests.perf.daemon_child", "--config", str(config)]
    argv += ["--env-file", str(sim.config) + ".env", "--out", str(out), "--record-mints"]
    try:
        spawned = time.monotonic()
        child = common.spawn("daemon", argv, workdir=workdir)
        try:
            common.wait_until(lambda: "daemon listening" in child.output(), timeout_s=120, what="daemon start")
            listening = time.monotonic()
            try:
                common.wait_until(lambda: common.ready(url), timeout_s=spec["ready_within"], interval_s=0.5)
                ready: float | None = time.monotonic()
            except TimeoutError:
                ready = None  # reported as such: the benchmark's time is bounded, the daemon's start is not
            counts = sim.counts(times=True)
        finally:
            child.stop(timeout_s=120)
    finally:
        sim.proc.stop()
    grants = json.loads(out.read_text()).get("mint_grants", [])
    times = [t for t in counts["token_times"] if t >= listening - 1.0]
    refused = counts["token_429_times"]
    first, last = (min(times), max(times)) if times else (listening, listening)
    return {
        "tenants": tenants,
        "configured_rate_per_s": spec["rate"],
        "configured_burst": spec["burst"],
        "simulator_limit_per_s": spec["sim_limit"],
        "probe_interval_s": spec["interval"],
        "token_requests": len(times),
        "token_statuses": counts["token"]["by_status"],
        "token_429": len(refused),
        "max_granted_in_any_1s_window": busiest_second(grants),
        "mint_grants": len(grants),
        "max_in_any_1s_window": busiest_second(times),
        "max_in_simulator_fixed_window": fixed_windows(times),
        "mean_rate_per_s": round((len(times) - 1) / (last - first), 1) if last > first else None,
        "minting_phase_s": round(last - first, 1),
        "start_to_listening_s": round(listening - spawned, 1),
        "start_to_ready_s": round(ready - spawned, 1) if ready is not None else None,
        "listening_to_ready_s": round(ready - listening, 1) if ready is not None else None,
        "ready_within_s": spec["ready_within"],
        "command": common.command_line(argv),
    }


def run(workdir: Path) -> common.Result:
    workload = (
        f"{SCALED['tenants']:,} tenants starting together, minting {SCALED['rate']}/s (burst {SCALED['burst']}) "
        f"against a simulator limit of {SCALED['sim_limit']}/s, probe_interval {SCALED['interval']:g} s; and "
        f"{DEFAULT['tenants']} tenants on the default minting settings ({DEFAULT['rate']:g}/s, burst "
        f"{DEFAULT['burst']}) against a limit of "
        f"{DEFAULT['sim_limit']}/s, probe_interval {DEFAULT['interval']:g} s"
    )
    started = common.announce("cold start", workload)
    (workdir / "scaled").mkdir()
    (workdir / "default").mkdir()
    scaled = run_one(workdir / "scaled", SCALED, default_minting=False)
    print(f"  scaled: {json.dumps({k: v for k, v in scaled.items() if k != 'command'})}", flush=True)
    default = run_one(workdir / "default", DEFAULT, default_minting=True)
    print(f"  default: {json.dumps({k: v for k, v in default.items() if k != 'command'})}", flush=True)
    tokens_phase = scaled["minting_phase_s"]
    projected = SCALED["tenants"] / DEFAULT_RATE
    result = common.Result("coldstart", workload, "")
    result.figures = {"scaled": scaled, "default_rate": default, "projected_ready_at_20_per_s_s": projected}
    limit_scaled = SCALED["rate"] + SCALED["burst"]
    result.targets = [
        common.Target(
            f"most mints let go in 1 s, {SCALED['tenants']:,} tenants at {SCALED['rate']}/s",
            scaled["max_granted_in_any_1s_window"],
            "/s",
            f"≤ rate + burst = {limit_scaled}",
            scaled["max_granted_in_any_1s_window"] <= limit_scaled,
        ),
        common.Target(
            f"most mints arriving at the simulator in 1 s, {SCALED['tenants']:,} tenants",
            scaled["max_in_any_1s_window"],
            "/s",
            "— (sends plus network jitter)",
            None,
        ),
        common.Target(f"429s, {SCALED['tenants']:,} tenants", scaled["token_429"], "", "0", scaled["token_429"] == 0),
        common.Target(
            f"mean minting rate, {SCALED['tenants']:,} tenants",
            scaled["mean_rate_per_s"] or 0.0,
            "/s",
            f"configured {SCALED['rate']}/s",
            None,
        ),
        common.Target(
            f"/readyz after, {SCALED['tenants']:,} tenants",
            scaled["start_to_ready_s"] if scaled["start_to_ready_s"] is not None else float("nan"),
            "s",
            f"(not ready within {SCALED['ready_within']:g} s)" if scaled["start_to_ready_s"] is None else "—",
            None,
        ),
        common.Target("projected minting time at 20/s", projected, "s", "—", None),
        common.Target(
            "most mints let go in 1 s, default settings",
            default["max_granted_in_any_1s_window"],
            "/s",
            f"≤ rate + burst = {DEFAULT['rate'] + DEFAULT['burst']:g}",
            default["max_granted_in_any_1s_window"] <= DEFAULT["rate"] + DEFAULT["burst"],
        ),
        common.Target(
            f"most mints arriving in 1 s, default settings, limit {DEFAULT['sim_limit']}/s",
            default["max_in_any_1s_window"],
            "/s",
            f"≤ {DEFAULT['sim_limit']}",
            default["max_in_any_1s_window"] <= DEFAULT["sim_limit"],
        ),
        common.Target("429s, default settings", default["token_429"], "", "0", default["token_429"] == 0),
    ]
    result.commands = [scaled["command"], default["command"]]
    readiness = (
        f"/readyz 200 after {scaled['start_to_ready_s']} s"
        if scaled["start_to_ready_s"] is not None
        else f"not ready within {SCALED['ready_within']:g} s of listening"
    )
    result.notes.append(
        f"scaled run: {scaled['token_requests']} token requests over {tokens_phase} s "
        f"(mean {scaled['mean_rate_per_s']}/s); {readiness}"
    )
    readiness = (
        f"ready after {scaled['start_to_ready_s']} s"
        if scaled["start_to_ready_s"] is not None
        else f"not ready within {SCALED['ready_within']:g} s of listening"
    )
    result.headline = (
        f"{SCALED['tenants']:,} tenants: at most {scaled['max_granted_in_any_1s_window']} mints let go in any second "
        f"({scaled['max_in_any_1s_window']} arriving) at "
        f"{SCALED['rate']}/s (burst {SCALED['burst']}), mean {scaled['mean_rate_per_s']}/s, "
        f"{scaled['token_429']} x 429, {readiness} (projected minting at 20/s: {projected:.0f} s); default settings vs "
        f"a {DEFAULT['sim_limit']}/s limit: {default['max_in_any_1s_window']} in the busiest second, "
        f"{default['token_429']} x 429"
    )
    return common.finish(result, started)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gw-bench-coldstart-") as tmp:
        run(Path(tmp))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
