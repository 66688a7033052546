"""Benchmark 7, the in-path proxy: latency it adds to a direct request, CPU against a minimal proxy.

Workload: a simulator process serving one generated tenant (its per-token budget raised so that
no 429 interferes); ``python -m grantwarden run`` with a ``proxy`` section (TCP, bearer token,
the tenant's blueprint allowing ``GET /api/v2/conversations/messaging/**``, probes every 30 s,
``per_tenant_concurrency`` 1024 so that a stall of the machine is measured, not refused);
``tests.perf.minproxy``, an aiohttp reverse proxy that only adds a fixed ``Authorization``
header. This process sends ``GET …/conversations/messaging/integrations?pageSize=1`` open-loop
at ``RATE`` requests/s (one every 2 ms whatever the answers do, over keep-alive connections) to
each target in turn, direct to the simulator (its own token), through grantwarden, through the
minimal proxy, ``ROUNDS`` rounds of ``PHASE_S`` seconds each, after a warm-up of each.

Figures, all from the same run:
- latency: from a request's send to its body read, per request; a target's percentile is over
  all its requests. Added latency = percentile(through grantwarden) − percentile(direct), at p50
  (target ≤ 1 ms) and p99 (target ≤ 3 ms).
- CPU per request: the process's ``/proc/PID/stat`` user+system time over its phases divided by
  the requests answered in them (everything the daemon does meanwhile counts against it). Target:
  minimal/grantwarden ≥ 0.7, i.e. grantwarden ≤ 1/0.7 of the minimal proxy's CPU per request.
- service time (reported, no target): the same request sent one at a time, 1,000 per target and
  round, p50 through grantwarden − p50 direct: what a request costs with no queue in front of it.
A target missed is reported as missed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.perf import common

RATE = 500
PHASE_S = 10.0
ROUNDS = 3
WARMUP_S = 3.0
PATH = "/api/v2/conversations/messaging/integrations?pageSize=1"
TOKEN = "bench-proxy-token-5b1d"
TARGET_P50_MS, TARGET_P99_MS, TARGET_CPU_RATIO = 1.0, 3.0, 0.7


async def drive(url: str, headers: dict[str, str], seconds: float) -> tuple[list[float], int]:
    """``RATE`` GETs a second for ``seconds``, open-loop; (latencies in seconds, non-200 answers)."""
    latencies: list[float] = []
    failed = 0
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def one() -> None:
            nonlocal failed
            started = time.perf_counter()
            try:
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    failed += response.status != 200
            except aiohttp.ClientError:
                failed += 1
                return
            latencies.append(time.perf_counter() - started)

        begin, tasks = loop.time(), []
        for index in range(int(RATE * seconds)):
            delay = begin + index / RATE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one()))
        await asyncio.gather(*tasks)
    return latencies, failed


async def one_at_a_time(url: str, headers: dict[str, str], count: int) -> list[float]:
    """``count`` GETs in a row, each sent when the last one's body was read."""
    latencies = []
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
    return latencies


def phase(url: str, headers: dict[str, str], pid: int | None) -> dict[str, Any]:
    cpu0 = common.cpu_seconds(pid) if pid else 0.0
    latencies, failed = asyncio.run(drive(url, headers, PHASE_S))
    cpu1 = common.cpu_seconds(pid) if pid else 0.0
    return {"latencies": latencies, "failed": failed, "cpu_s": cpu1 - cpu0}


def direct_token(config: dict[str, Any], env: dict[str, str]) -> str:
    """A token of the tenant's own client, for the direct requests (as the SDK would hold)."""
    tenant = config["tenants"][0]
    credentials = tenant["credentials"]
    secret = env[credentials["client_secret"]["env"]]
    basic = base64.b64encode(f"{credentials['client_id']}:{secret}".encode()).decode()

    async def mint() -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                tenant["login_base_url"].rstrip("/") + "/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic}"},
            ) as response,
        ):
            return str((await response.json())["access_token"])

    return asyncio.run(mint())


def summarise(phases: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [value for p in phases for value in p["latencies"]]
    answered = len(latencies)
    cpu = sum(p["cpu_s"] for p in phases)
    return {
        "requests": answered,
        "failed": sum(p["failed"] for p in phases),
        "p50_ms": round(1000 * common.percentile(latencies, 0.5), 3),
        "p99_ms": round(1000 * common.percentile(latencies, 0.99), 3),
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_request": round(1000 * cpu / max(answered, 1), 4),
    }


def measure(targets: dict[str, tuple[str, dict[str, str], int | None]]) -> dict[str, dict[str, Any]]:
    for url, headers, _ in targets.values():  # warm connections, tokens and caches
        asyncio.run(drive(url, headers, WARMUP_S))
    phases: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    serial: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(ROUNDS):
        for name, (url, headers, pid) in targets.items():
            phases[name].append(phase(url, headers, pid))
            serial[name] += asyncio.run(one_at_a_time(url, headers, 1000))
    return {
        name: {**summarise(found), "one_at_a_time_p50_ms": round(1000 * common.percentile(serial[name], 0.5), 3)}
        for name, found in phases.items()
    }


def run(workdir: Path) -> common.Result:
    workload = (
        f"1 tenant; GET {PATH.split('?')[0]} open-loop at {RATE}/s, {ROUNDS} rounds x {PHASE_S:g} s per target "
        "(direct to the simulator, through grantwarden's proxy, through a minimal aiohttp proxy adding one header), "
        "after a warm-up; latency send-to-body per request; CPU from /proc/PID/stat over each target's phases"
    )
    started = common.announce("in-path proxy", workload)
    sim = common.start_simulator(workdir, tenants=1, seed=21, token_requests_per_minute=10_000_000)
    result = common.Result("proxy", workload, "")
    try:
        emitted = yaml.safe_load(sim.config.read_text())
        tenant = emitted["tenants"][0]["name"]
        port, proxy_port = common.free_port(), common.free_port()
        blueprint = {"proxy_allow": [{"method": "GET", "path": "/api/v2/conversations/messaging/**"}]}
        config = common.write_config(
            sim.config,
            workdir / "proxy.yaml",
            {
                "server": {"listen": f"127.0.0.1:{port}"},
                "proxy": {
                    "listen": f"127.0.0.1:{proxy_port}",
                    "bearer_token": {"env": "GW_BENCH_PROXY_TOKEN"},
                    "per_tenant_concurrency": 1024,  # a stall of this shared machine must not turn into 429s
                },
                "logging": {"level": "info", "format": "json"},
                "defaults": {"probe_interval": "30s", "probe_timeout": "5s"},
            },
        )
        raw = yaml.safe_load(config.read_text())
        for name in raw["blueprints"]:
            raw["blueprints"][name] = {**raw["blueprints"][name], **blueprint}
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        env = {**sim.env, "GW_BENCH_PROXY_TOKEN": TOKEN}
        mini_argv = [common.PYTHON, "-m", "tests.perf.minproxy", "--config", str(config), "--listen", "127.0.0.1:0"]
        with (
            common.running(common.start_daemon(workdir, config, env)) as daemon,
            common.running(common.spawn("minproxy", mini_argv, workdir=workdir, env={**os.environ, **env})) as mini,
        ):
            common.wait_until(lambda: common.ready(f"http://127.0.0.1:{port}"), timeout_s=120, what="/readyz")
            mini_url = common.wait_until(
                lambda: next((x.split()[-1] for x in mini.output().splitlines() if "listening on" in x), None),
                timeout_s=60,
                what="the minimal proxy",
            )
            api = tenant_api(emitted)
            figures = measure(
                {
                    "direct": (api + PATH, {"Authorization": f"Bearer {direct_token(emitted, env)}"}, None),
                    "grantwarden": (
                        f"http://127.0.0.1:{proxy_port}/t/{tenant}{PATH}",
                        {"X-Grantwarden-Token": TOKEN},
                        daemon.pid,
                    ),
                    "minimal": (f"{mini_url}/t/{tenant}{PATH}", {}, mini.pid),
                }
            )
    finally:
        sim.proc.stop()
    return report(result, figures, started)


def tenant_api(emitted: dict[str, Any]) -> str:
    return str(emitted["tenants"][0]["api_base_url"]).rstrip("/")


def report(result: common.Result, figures: dict[str, dict[str, Any]], started: float) -> common.Result:
    direct, ours, minimal = figures["direct"], figures["grantwarden"], figures["minimal"]
    added50 = round(ours["p50_ms"] - direct["p50_ms"], 3)
    added99 = round(ours["p99_ms"] - direct["p99_ms"], 3)
    ratio = round(minimal["cpu_ms_per_request"] / max(ours["cpu_ms_per_request"], 1e-9), 3)
    serial = round(ours["one_at_a_time_p50_ms"] - direct["one_at_a_time_p50_ms"], 3)
    serial_minimal = round(minimal["one_at_a_time_p50_ms"] - direct["one_at_a_time_p50_ms"], 3)
    result.figures = {
        **figures,
        "added_p50_ms": added50,
        "added_p99_ms": added99,
        "cpu_ratio_minimal_over_ours": ratio,
        "one_at_a_time_added_p50_ms": serial,
    }
    result.targets = [
        common.Target("latency added at p50", added50, "ms", f"≤ {TARGET_P50_MS:g} ms", added50 <= TARGET_P50_MS),
        common.Target("latency added at p99", added99, "ms", f"≤ {TARGET_P99_MS:g} ms", added99 <= TARGET_P99_MS),
        common.Target("direct p50", direct["p50_ms"], "ms", "—", None),
        common.Target("direct p99", direct["p99_ms"], "ms", "—", None),
        common.Target("service time added, one request at a time, p50", serial, "ms", "—", None),
        common.Target("the same for the minimal proxy", serial_minimal, "ms", "—", None),
        common.Target("grantwarden CPU per request", ours["cpu_ms_per_request"], "ms", "—", None),
        common.Target("minimal proxy CPU per request", minimal["cpu_ms_per_request"], "ms", "—", None),
        common.Target("CPU ratio minimal/grantwarden", ratio, "", f"≥ {TARGET_CPU_RATIO:g}", ratio >= TARGET_CPU_RATIO),
    ]
    failed = {name: f["failed"] for name, f in figures.items() if f["failed"]}
    if failed:
        result.notes.append(f"non-200 answers: {failed}")
    result.headline = (
        f"grantwarden's proxy adds {added50:g} ms at p50 and {added99:g} ms at p99 to a direct request at {RATE}/s; "
        f"CPU per request {ours['cpu_ms_per_request']:g} ms vs {minimal['cpu_ms_per_request']:g} ms for a minimal "
        f"proxy (ratio {ratio:g}, target ≥ {TARGET_CPU_RATIO:g})"
    )
    return common.finish(result, started)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gw-bench-proxy-") as tmp:
        run(Path(tmp))


if __name__ == "__main__":
    main()
