"""Benchmark 2, scale: memory per tenant, event-loop lag and operator endpoints at 1k–10k tenants.

Workload per size N (1,000, 5,000, 10,000): a simulator process serving N generated tenants
(minting limit 250/s), and the daemon (``tests.perf.daemon_child``: ``runtime.run`` in a
process of its own, plus samplers) with six probes per tenant and ``probe_interval`` N·6/200 s,
so the load is about 200 probes/s, minting at 200/s. Warm-up lasts until ``/readyz`` is 200
(every tenant finished its first cycle: first cycles spread over what minting the tokens takes,
N/200 s, so that part runs at the minting pace), then a steady window of half an interval (at
least ``STEADY_S``), in which the second cycles have moved to their own phases of the interval
and the load is the ~200 probes/s the benchmark is about. Figures:

* RSS per tenant: (RSS at the end of the steady window − RSS after imports) / N;
* event-loop lag p50/p99/max: a timer every 100 ms in the daemon's loop records how late it fires;
  p99 is given as sampled and time-weighted (``time_weighted``: a stall counts for as long as it
  lasts, not as one sample), and the target is judged on the time-weighted figure; the longest
  full garbage collection (``gc.callbacks`` in the daemon's process) is shown beside it;
  the window is the steady window after ``/readyz`` turned 200 (the start-up, at the minting
  pace, is reported apart as ``lag_start_up``; benchmark 4 is about it); no operator requests
  in it (their lag is reported apart);
* ``/metrics`` and ``/status`` response time (median of three, from another process).

The 10,000-tenant start is also benchmark 4's cold start (``coldstart`` reads its figures).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.perf import common

SIZES = (10_000, 5_000, 1_000)
PROBES_PER_S = 200.0
STEADY_S = 5.0
MINT_RATE = 200
MINT_BURST = 20
SIM_MINT_LIMIT = 250
TARGET_RSS_MB = 300.0
TARGET_LAG_P99_S = 0.1
TARGET_METRICS_S = 1.5


def endpoint_times(url: str, path: str, repeat: int = 3) -> dict[str, Any]:
    times, sizes, statuses = [], [], []
    for _ in range(repeat):
        status, body, seconds = common.get(url + path, timeout_s=60)
        times.append(seconds)
        sizes.append(len(body))
        statuses.append(status)
    return {
        "median_s": round(common.percentile(times, 0.5), 3),
        "max_s": round(max(times), 3),
        "bytes": max(sizes),
        "statuses": statuses,
    }


def time_weighted(lags: list[float], window_s: float, q: float) -> float:
    """The wait a callback becoming ready at a random moment would see, at quantile ``q``.

    A timer sampler sees a stall of D seconds as one late sample (lag D), however long the stall;
    its p99 therefore hides a 1 s stall that comes every 20 s. Here each late sample counts as the
    D seconds of wall time the loop was stalled, during which a newly ready callback waited up to
    D: the result is the smallest L such that waits above L cover at most (1 - q) of the window.
    """
    budget = (1 - q) * window_s
    ordered = sorted(lags, reverse=True)
    above_sum, above = 0.0, 0
    for index, lag in enumerate(ordered):
        above_sum, above = above_sum + lag, above + 1  # for L below this lag, these waits exceed L
        below = ordered[index + 1] if index + 1 < len(ordered) else 0.0
        level = (above_sum - budget) / above  # where sum(lag - L for lags above L) == budget
        if level >= below:
            return max(level, 0.0)
    return 0.0


def lag_between(samples: list[list[float]], start: float, end: float) -> dict[str, Any]:
    window = [lag for at, lag in samples if start <= at <= end]
    return {
        "samples": len(window),
        "p50_ms": round(1000 * common.percentile(window, 0.5), 2),
        "p99_ms": round(1000 * common.percentile(window, 0.99), 2),
        "p99_time_weighted_ms": round(1000 * time_weighted(window, end - start, 0.99), 2),
        "max_ms": round(1000 * max(window, default=float("nan")), 2),
    }


def run_size(workdir: Path, tenants: int, child_args: tuple[str, ...] = ()) -> dict[str, Any]:
    interval = tenants * 6 / PROBES_PER_S
    sim = common.start_simulator(
        workdir, tenants=tenants, seed=tenants, mints_per_second=SIM_MINT_LIMIT, request_log=1000
    )
    port = common.free_port()
    url = f"http://127.0.0.1:{port}"
    config = common.write_config(
        sim.config,
        workdir / f"scale-{tenants}.yaml",
        {
            "server": {"listen": f"127.0.0.1:{port}"},
            "logging": {"level": "info", "format": "json"},
            "minting": {"rate_per_second": MINT_RATE, "burst": MINT_BURST},
            "defaults": {"probe_interval": f"{interval:g}s", "probe_timeout": "10s"},
        },
    )
    env_file = Path(str(sim.config) + ".env")
    out = workdir / f"child-{tenants}.json"
    argv = [common.PYTHON, "-m", "tests.perf.daemon_child", "--config", str(config), "--env-file", str(env_file)]
    argv += ["--out", str(out), *child_args]
    phases: dict[str, float] = {}
    try:
        counts_before = sim.counts()
        phases["spawned"] = time.monotonic()
        child = common.spawn(f"daemon-{tenants}", argv, workdir=workdir)
        try:
            common.wait_until(lambda: "daemon listening" in child.output(), timeout_s=120, what="daemon start")
            phases["listening"] = time.monotonic()
            common.wait_until(lambda: common.ready(url), timeout_s=interval + 180, interval_s=1.0, what="/readyz")
            phases["ready"] = time.monotonic()
            time.sleep(max(STEADY_S, interval / 2))
            phases["steady_end"] = time.monotonic()
            rss_warm = common.rss_bytes(child.pid)
            counts_warm = sim.counts(times=True)
            metrics = endpoint_times(url, "/metrics")
            status = endpoint_times(url, "/status")
            phases["endpoints_end"] = time.monotonic()
        finally:
            child.stop(timeout_s=120)
        measured = json.loads(out.read_text())
    finally:
        sim.proc.stop()
    token_times = counts_warm["token_times"]
    # Each tenant's first token request (the Nth request overall, when there are no retries).
    last_initial_mint = sorted(token_times)[min(tenants, len(token_times)) - 1]
    steady_from = max(phases["listening"] + 10.0, phases["ready"])
    probes = counts_warm["api"]["total"] - counts_before["api"]["total"]
    baseline = measured["rss_baseline"]
    return {
        "tenants": tenants,
        "probe_interval_s": interval,
        "config_load_s": measured["config_load_s"],
        "rss_baseline_mb": round(baseline / 2**20, 1),
        "rss_after_config_mb": round(measured["rss_after_config"] / 2**20, 1),
        "rss_warm_mb": round(rss_warm / 2**20, 1),
        "rss_per_tenant_kb": round((rss_warm - baseline) / tenants / 1024, 2),
        "start_to_listening_s": round(phases["listening"] - phases["spawned"], 1),
        "start_to_last_mint_s": round(last_initial_mint - phases["spawned"], 1),
        "start_to_ready_s": round(phases["ready"] - phases["spawned"], 1),
        "lag_window_s": round(phases["steady_end"] - steady_from, 1),
        "lag_steady": lag_between(measured["lag"], steady_from, phases["steady_end"]),
        "lag_start_up": lag_between(measured["lag"], phases["spawned"], steady_from),
        "lag_during_endpoints": lag_between(measured["lag"], phases["steady_end"], phases["endpoints_end"]),
        "metrics": metrics,
        "status": status,
        "probes_answered": probes,
        "probe_statuses": counts_warm["api"]["by_status"],
        "token_statuses": counts_warm["token"]["by_status"],
        "token_times_since_spawn": [round(t - phases["spawned"], 4) for t in token_times],
        "token_429_times_since_spawn": [round(t - phases["spawned"], 4) for t in counts_warm["token_429_times"]],
        "gc_collections": [
            {"at_s": round(at - phases["spawned"], 1), "generation": generation, "ms": round(1000 * seconds, 1)}
            for at, generation, seconds in measured.get("gc", [])
            if generation == 2 or seconds > 0.05
        ],
        "command": common.command_line(argv),
    }


def run(workdir: Path, sizes: tuple[int, ...] = SIZES) -> tuple[common.Result, dict[str, Any]]:
    workload = (
        f"N in {', '.join(f'{n:,}' for n in sizes)} tenants x 6 probes, probe_interval N*6/200 s (~200 probes/s), "
        f"minting {MINT_RATE}/s; daemon in its own process; warm-up until /readyz=200, then half an interval "
        f"(at least {STEADY_S:g} s) of steady load"
    )
    started = common.announce("scale", workload)
    runs: dict[str, Any] = {}
    for tenants in sizes:
        sub = workdir / f"scale-{tenants}"
        sub.mkdir()
        run_started = time.monotonic()
        runs[str(tenants)] = run_size(sub, tenants)
        shown = {k: v for k, v in runs[str(tenants)].items() if not k.startswith("token_")}
        print(f"  {tenants:,} tenants ({time.monotonic() - run_started:.0f} s): {json.dumps(shown)}", flush=True)
    largest = runs[str(max(sizes))]
    result = common.Result("scale", workload, "")
    result.figures = {n: {k: v for k, v in r.items() if not k.startswith("token_")} for n, r in runs.items()}
    for n, r in runs.items():
        at_target = int(n) == 10_000
        result.targets += [
            common.Target(
                f"RSS at {int(n):,} tenants",
                r["rss_warm_mb"],
                "MB",
                f"≤ {TARGET_RSS_MB:g} MB" if at_target else "—",
                r["rss_warm_mb"] <= TARGET_RSS_MB if at_target else None,
            ),
            common.Target(f"RSS per tenant at {int(n):,}", r["rss_per_tenant_kb"], "KiB", "—", None),
            common.Target(f"loop lag p50 at {int(n):,}", r["lag_steady"]["p50_ms"], "ms", "—", None),
            common.Target(f"loop lag p99 (timer samples) at {int(n):,}", r["lag_steady"]["p99_ms"], "ms", "—", None),
            common.Target(
                f"loop lag p99 (time-weighted) at {int(n):,}",
                r["lag_steady"]["p99_time_weighted_ms"],
                "ms",
                f"≤ {1000 * TARGET_LAG_P99_S:g} ms" if at_target else "—",
                r["lag_steady"]["p99_time_weighted_ms"] <= 1000 * TARGET_LAG_P99_S if at_target else None,
            ),
            common.Target(f"loop lag max at {int(n):,}", r["lag_steady"]["max_ms"], "ms", "—", None),
            common.Target(
                f"longest full (gen 2) GC at {int(n):,}",
                max((c["ms"] for c in r["gc_collections"] if c["generation"] == 2), default=0.0),
                "ms",
                "—",
                None,
            ),
        ]
    result.targets += [
        common.Target(
            f"/metrics at {max(sizes):,}",
            largest["metrics"]["median_s"],
            "s",
            f"≤ {TARGET_METRICS_S:g} s",
            largest["metrics"]["median_s"] <= TARGET_METRICS_S,
        ),
        common.Target(f"/status at {max(sizes):,}", largest["status"]["median_s"], "s", "—", None),
    ]
    result.commands = [r["command"] for r in runs.values()]
    result.headline = (
        f"at {max(sizes):,} tenants: RSS {largest['rss_warm_mb']} MB ({largest['rss_per_tenant_kb']} KiB/tenant), "
        f"lag p50 {largest['lag_steady']['p50_ms']} ms, p99 {largest['lag_steady']['p99_ms']} ms by timer samples, "
        f"{largest['lag_steady']['p99_time_weighted_ms']} ms time-weighted, max {largest['lag_steady']['max_ms']} ms, "
        f"/metrics {largest['metrics']['median_s']} s, /status {largest['status']['median_s']} s"
    )
    return common.finish(result, started), runs


def main() -> None:
    sizes = tuple(int(n) for n in os.environ.get("BENCH_SIZES", ",".join(map(str, SIZES))).split(","))
    with tempfile.TemporaryDirectory(prefix="gw-bench-scale-") as tmp:
        run(Path(tmp), sizes)


if __name__ == "__main__":
    main()
