"""Microbenchmark: the per-tenant series store against prometheus_client children, at 10,000 tenants.

``python -m tests.perf.metrics_render [--tenants 10000] [--chunk 500] [--repeat 5]`` fills both
with the same day of a realistic fleet (six probes per tenant, ~1,440 runs each, mostly ``ok``,
a few tenants degraded, refused permissions, re-grants, 429s) and prints:

* memory per tenant (tracemalloc, bytes allocated by the fill and still held): the store of
  ``grantwarden.telemetry.series`` against the prometheus_client Gauges and Counters that held these families
  before (same names and labels, ``_created`` disabled as the daemon does);
* the cost of recording one probe run: ``TenantSeries.record_probe`` plus the duration histogram
  against the four ``labels()`` lookups it replaced;
* ``/metrics`` rendering: ``grantwarden.telemetry.metrics.Metrics.exposition`` on the event loop (median and
  worst of ``--repeat``, and the longest stretch the loop went without a turn, i.e. the lag a
  scrape adds) against ``prometheus_client.generate_latest`` of the old families, and the slow
  path (``generate_latest`` of the store's registry collector) for reference.

Not a test and not part of ``make bench``: it asserts nothing, it reports. No network, ~30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
import timeit
import tracemalloc
from collections.abc import Callable
from typing import Any

import prometheus_client as prom

from grantwarden.base import clock as clock_mod
from grantwarden.policy import labels
from grantwarden.telemetry import exposition
from grantwarden.telemetry import metrics as metrics_mod

PROBES = ("token", "organization", "messaging-integrations", "messaging-settings", "conversations", "web-deployments")
RUNS_PER_DAY = 1_440  # one probe run a minute


def fleet(tenants: int, seed: int = 7) -> list[dict[str, Any]]:
    """What a day of probing leaves per tenant, as plain data both fillers replay."""
    rng = random.Random(seed)
    plan = []
    for index in range(tenants):
        sick = rng.random() < 0.05
        failing = rng.choice(PROBES[1:]) if sick else None
        probes = {}
        for probe in PROBES:
            runs = RUNS_PER_DAY + rng.randrange(-30, 30)
            failed = rng.randrange(1, runs) if probe == failing else 0
            outcome = labels.Outcome.MISSING_PERMISSION if failed else labels.Outcome.OK
            probes[probe] = (runs - failed, failed, outcome, 403 if failed else 200)
        plan.append(
            {
                "name": f"tenant-{index:05d}",
                "state": labels.State.DEGRADED if sick else labels.State.HEALTHY,
                "expiry": 1_800_000_000.0 + rng.uniform(0, 86_400),
                "refresh": 1_800_000_000.0 + rng.uniform(0, 64_800),
                "tokens": 24 + rng.randrange(3),
                "probes": probes,
                "missing": ["messaging:integration:view"] if sick else [],
                "regrants": 1 if sick and rng.random() < 0.5 else 0,
                "rate_limited": rng.randrange(3) if rng.random() < 0.02 else 0,
            }
        )
    return plan


def fill_store(metrics: metrics_mod.Metrics, plan: list[dict[str, Any]]) -> None:
    for row in plan:
        tenant = metrics.tenant(row["name"])
        tenant.state = row["state"]
        tenant.token_expiry, tenant.token_refresh = row["expiry"], row["refresh"]
        tenant.token_requests[labels.TokenResult.OK] = row["tokens"]
        for probe, (ok, failed, outcome, status) in row["probes"].items():
            tenant.record_probe(probe, labels.Outcome.OK, 200)
            tenant.probes[probe].ok = ok
            if failed:
                tenant.record_probe(probe, outcome, status)
                assert tenant.probes[probe].failures is not None
                tenant.probes[probe].failures[outcome] = failed
        tenant.set_missing(row["missing"])
        if row["regrants"]:
            tenant.regrants[labels.RegrantResult.VERIFIED] = row["regrants"]
        tenant.rate_limited = row["rate_limited"]


class Legacy:
    """The per-tenant families as prometheus_client children, as daemon/grantwarden/telemetry/metrics.py had them."""

    def __init__(self, registry: prom.CollectorRegistry) -> None:
        self.registry = registry

        def gauge(name: str, *names: str) -> prom.Gauge:
            return prom.Gauge(name, name, ["tenant", *names], registry=registry)

        def counter(name: str, *names: str) -> prom.Counter:
            return prom.Counter(name, name, ["tenant", *names], registry=registry)

        self.state = gauge("grantwarden_tenant_state", "state")
        self.expiry = gauge("grantwarden_token_expiry_timestamp_seconds")
        self.refresh = gauge("grantwarden_token_refresh_timestamp_seconds")
        self.requests = counter("grantwarden_token_requests", "result")
        self.success = gauge("grantwarden_probe_success", "probe")
        self.status = gauge("grantwarden_probe_http_status", "probe")
        self.outcomes = counter("grantwarden_probe_outcomes", "probe", "outcome")
        self.missing = gauge("grantwarden_missing_permission", "permission")
        self.regrants = counter("grantwarden_regrants", "result")
        self.rate_limited = counter("grantwarden_rate_limited")
        self.worker_restarts = counter("grantwarden_worker_restarts")

    def fill(self, plan: list[dict[str, Any]]) -> None:
        for row in plan:
            name = row["name"]
            self.state.labels(name, row["state"]).set(1)
            self.expiry.labels(name).set(row["expiry"])
            self.refresh.labels(name).set(row["refresh"])
            self.requests.labels(name, labels.TokenResult.OK).inc(row["tokens"])
            for probe, (ok, failed, outcome, status) in row["probes"].items():
                self.success.labels(name, probe).set(0 if failed else 1)
                self.status.labels(name, probe).set(status)
                self.outcomes.labels(name, probe, labels.Outcome.OK).inc(ok)
                if failed:
                    self.outcomes.labels(name, probe, outcome).inc(failed)
            for permission in row["missing"]:
                self.missing.labels(name, permission).set(1)
            if row["regrants"]:
                self.regrants.labels(name, labels.RegrantResult.VERIFIED).inc(row["regrants"])
            if row["rate_limited"]:
                self.rate_limited.labels(name).inc(row["rate_limited"])


def held_bytes(build: Callable[[], object]) -> tuple[object, int]:
    """What ``build()`` returns, and the bytes it allocated that are still held afterwards."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    built = build()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return built, after - before


def per_call_us(call: Callable[[], object], count: int = 20_000) -> float:
    """CPU cost of one call: best of five rounds, collector paused (``timeit``'s way), so that a
    full collection owed by the fill is not billed to whichever side runs first."""
    return min(timeit.repeat(call, number=count, repeat=5)) / count * 1e6


async def render_fast(metrics: metrics_mod.Metrics, chunk: int) -> tuple[float, float, int]:
    """One scrape on the loop: its duration, the longest the loop waited for a turn, its bytes."""
    clock = clock_mod.LoopClock()
    longest = 0.0
    rendering = asyncio.create_task(exposition.render(metrics.tenants, clock=clock, chunk=chunk))
    start = last = time.perf_counter()
    while not rendering.done():
        await asyncio.sleep(0)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    body = prom.generate_latest(metrics._own) + await rendering  # as Metrics.exposition does
    return time.perf_counter() - start, longest, len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=exposition.CHUNK)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    prom.disable_created_metrics()  # type: ignore[no-untyped-call]  # as runtime.run does
    plan = fleet(args.tenants)
    n = args.tenants

    def build_store() -> metrics_mod.Metrics:
        metrics = metrics_mod.Metrics(registry=prom.CollectorRegistry())
        fill_store(metrics, plan)
        return metrics

    def build_legacy() -> Legacy:
        legacy = Legacy(prom.CollectorRegistry())
        legacy.fill(plan)
        return legacy

    metrics, store_bytes = held_bytes(build_store)
    legacy, legacy_bytes = held_bytes(build_legacy)
    assert isinstance(metrics, metrics_mod.Metrics)
    assert isinstance(legacy, Legacy)
    print(f"tenants {n:,} x {len(PROBES)} probes")
    print(f"memory per tenant: store {store_bytes / n:,.0f} B, prometheus_client children {legacy_bytes / n:,.0f} B")

    probe = metrics.tenant("tenant-00000")
    store_us = per_call_us(
        lambda: (
            probe.record_probe("organization", labels.Outcome.OK, 200),
            metrics.probe_duration_of("organization").observe(0.1),
        )
    )
    histogram = prom.Histogram("d", "d", ["probe"], registry=None)

    def legacy_record() -> None:
        legacy.success.labels("tenant-00000", "organization").set(1)
        legacy.status.labels("tenant-00000", "organization").set(200)
        legacy.outcomes.labels("tenant-00000", "organization", labels.Outcome.OK).inc()
        histogram.labels("organization").observe(0.1)

    print(f"one probe run recorded: store {store_us:.2f} µs, labels() lookups {per_call_us(legacy_record):.2f} µs")

    gc.collect()  # what the fills left owing, not billed to the first scrape
    runs = [asyncio.run(render_fast(metrics, args.chunk)) for _ in range(args.repeat)]
    durations, stalls = [run[0] for run in runs], [run[1] for run in runs]
    print(
        f"/metrics fast path (chunk {args.chunk}): median {statistics.median(durations) * 1e3:.0f} ms, "
        f"worst {max(durations) * 1e3:.0f} ms, longest loop stall {max(stalls) * 1e3:.1f} ms, "
        f"{runs[0][2] / 1e6:.1f} MB"
    )
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        prom.generate_latest(legacy.registry)
        times.append(time.perf_counter() - start)
    before_ms = statistics.median(times) * 1e3
    print(f"/metrics before (generate_latest of the children, blocking the loop): median {before_ms:.0f} ms")
    start = time.perf_counter()
    prom.generate_latest(exposition.Collector(metrics.tenants))
    slow_ms = (time.perf_counter() - start) * 1e3
    print(f"slow path (generate_latest of the store's collector, what tests read): {slow_ms:.0f} ms")


if __name__ == "__main__":
    main()
