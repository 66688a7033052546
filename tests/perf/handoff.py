"""Benchmark 6, hand-off: tokens to an integration at 2,000 requests/s, and a refresh wave of 10,000 files.

Workload: a simulator process serving 10,000 generated tenants, and the daemon (``daemon_child``, in
a process of its own) probing all of them (the identity check and one endpoint, probe_interval
100 s: 200 probes/s, and minting at 200 tokens/s, benchmark 2's load), with a token hand-off on a
unix socket and a file sink in /dev/shm (a tmpfs, as the deployment examples mount it).
Once ``/readyz`` is 200 (every tenant's first cycle done, every token file written):

1. ``GET /v1/tenants/{t}/token`` for every tenant in turn at 2,000 requests/s for 20 s over 16
   keep-alive connections (``handoff_client``, its own process, open loop). Latency: p50/p99 of
   the round trips (from writing a request to the end of its answer), and p99 of the delay from
   each request's due time (what a caller sees when requests queue for an idle connection).
2. CPU per request: the daemon's user+system CPU (``/proc/PID/stat``) during the load, minus its
   CPU for probing alone (measured over 10 s just before, scaled to the load's duration), divided
   by the requests answered; the same for a minimal aiohttp server answering the same JSON from a
   dict (``handoff_baseline``, its own process, same client, same rate, run right after while the
   daemon keeps probing). Ratio = baseline CPU per request / grantwarden's (target ≥ 0.7, i.e.
   grantwarden at most 1/0.7 of the baseline).
3. A refresh wave: SIGUSR1 makes the daemon refresh every tenant's token at once; the mints go
   out as fast as the mint limiter lets them (``minting.rate_per_second``, here 200/s: 50 s for
   10,000), and the wave lasts until every token file has been rewritten. Loop lag over the wave:
   a 100 ms timer in the daemon's loop records how late it fires; p99 of those samples, and the
   time-weighted p99 of benchmark 2 (a stall counts for as long as it lasts), on which the target
   (≤ 100 ms) is judged. Full (generation 2) collections in the wave are shown beside it.
4. The file sink's worst case, in this process: 10,000 tenants whose tokens all change at once,
   twice (every file rewritten in one burst, not paced by minting); the loop lag over both bursts
   from a 10 ms timer, p99 time-weighted, against the same target.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from grantwarden.base import clock as clock_mod
from grantwarden.surface import files
from grantwarden.worker import handout, tokenbox
from tests.perf import common, scale

TENANTS = 10_000
PROBES = ["token", "organization"]
PROBES_PER_S = 200.0
RATE = 2000.0
LOAD_S = 20.0
IDLE_S = 10.0
MINT_RATE, MINT_BURST, SIM_MINT_LIMIT = 200, 20, 250
TARGET_P99_MS = 2.0
TARGET_RATIO = 0.7
TARGET_WAVE_LAG_MS = 100.0
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def configure(emitted: Path, target: Path, *, port: int, socket: Path, files: Path) -> list[str]:
    """The emitted configuration with two probes per tenant and the hand-off; the tenants' names."""
    config = yaml.load(emitted.read_text(), Loader=_LOADER)
    for blueprint in config["blueprints"].values():
        blueprint["probes"] = PROBES
    interval = TENANTS * len(PROBES) / PROBES_PER_S
    config |= {
        "server": {"listen": f"127.0.0.1:{port}"},
        "logging": {"level": "info", "format": "json"},
        "minting": {"rate_per_second": MINT_RATE, "burst": MINT_BURST},
        "defaults": {"probe_interval": f"{interval:g}s", "probe_timeout": "10s"},
        "handoff": {"listen": f"unix:{socket}", "files": {"directory": str(files)}},
    }
    target.write_text(yaml.dump(config, Dumper=_DUMPER, sort_keys=False))
    return [tenant["name"] for tenant in config["tenants"]]


def load(workdir: Path, socket: Path, tenants: Path, name: str) -> dict[str, Any]:
    out = workdir / f"{name}.json"
    argv = [common.PYTHON, "-m", "tests.perf.handoff_client", "--socket", str(socket), "--tenants", str(tenants)]
    argv += ["--rate", f"{RATE:g}", "--seconds", f"{LOAD_S:g}", "--out", str(out)]
    client = common.spawn(f"client-{name}", argv, workdir=workdir)
    client.popen.wait(LOAD_S + 120)
    result: dict[str, Any] = json.loads(out.read_text())
    result["command"] = common.command_line(argv)
    return result


def measured_load(workdir: Path, pid: int, socket: Path, tenants: Path, name: str) -> dict[str, Any]:
    """The load against ``pid``, with its CPU alone (probing only) before and under the load."""
    idle_before = common.cpu_seconds(pid)
    time.sleep(IDLE_S)
    idle_rate = (common.cpu_seconds(pid) - idle_before) / IDLE_S
    cpu_before, started = common.cpu_seconds(pid), time.monotonic()
    result = load(workdir, socket, tenants, name)
    cpu, seconds = common.cpu_seconds(pid) - cpu_before, time.monotonic() - started
    window = (started, started + seconds)
    answered = sum(result["statuses"].values())
    return {
        "requests": answered,
        "statuses": result["statuses"],
        "rate_achieved": round(answered / result["elapsed_s"], 1),
        "round_trip_p50_ms": round(1000 * common.percentile(result["round_trips"], 0.5), 3),
        "round_trip_p99_ms": round(1000 * common.percentile(result["round_trips"], 0.99), 3),
        "round_trip_max_ms": round(1000 * max(result["round_trips"]), 3),
        "from_due_p99_ms": round(1000 * common.percentile(result["delays"], 0.99), 3),
        "cpu_idle_per_s": round(idle_rate, 4),
        "cpu_under_load_s": round(cpu, 3),
        "cpu_per_request_us": round(1e6 * max(0.0, cpu - idle_rate * seconds) / max(1, answered), 2),
        "window": window,
        "command": result["command"],
    }


def collections_in(measured: dict[str, Any], window: tuple[float, float]) -> dict[str, float]:
    """The daemon's garbage collections of generations 1 and 2 within ``window``: count and seconds."""
    found = [(gen, seconds) for at, gen, seconds in measured.get("gc", []) if window[0] <= at <= window[1]]
    return {
        f"gen{gen}_{what}": round(
            sum(s for g, s in found if g == gen) if what == "s" else sum(g == gen for g, _ in found), 3
        )
        for gen in (1, 2)
        for what in ("count", "s")
    }


class _Tenant:
    """A tenant as the file sink sees it (``surface.files.Sharing``), its token replaced at will."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.shared: handout.Handout | None = None

    def rotate(self, number: int, now: float) -> None:
        token = tokenbox.Token(f"{'t' * 40}{number:08d}", expires_at=now + 86_400, refresh_at=now + 80_000,
                               received_at=now)  # fmt: skip
        self.shared = handout.Handout(self.name, f"org-{self.name}", None, "https://api.example.test", token)

    def shareable(self) -> handout.Handout | None:
        return self.shared

    def note_handed(self) -> None:
        pass


async def sink_burst() -> dict[str, Any]:
    """Every one of ``TENANTS`` files rewritten at once, twice; the loop lag meanwhile (10 ms timer)."""
    clock = clock_mod.LoopClock()
    tenants = {f"t{index:05d}": _Tenant(f"t{index:05d}") for index in range(TENANTS)}
    with tempfile.TemporaryDirectory(prefix="gw-bench-burst-", dir="/dev/shm") as shm:
        sink = files.FileSink(directory=Path(shm), mode=0o640, clock=clock, lookup=tenants.get)
        sink.prepare()
        stop = asyncio.Event()
        writer = asyncio.create_task(sink.run(stop))
        lags: list[tuple[float, float]] = []
        sampling = asyncio.Event()

        async def sample() -> None:
            loop = asyncio.get_running_loop()
            while not sampling.is_set():
                due = loop.time() + 0.01
                await asyncio.sleep(0.01)
                lags.append((time.monotonic(), max(0.0, loop.time() - due)))

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        for round_ in (1, 2):
            for number, tenant in enumerate(tenants.values()):
                if number and number % files.SLICE == 0:
                    # In the daemon each change comes from its own mint's completion, never 10,000
                    # in one turn of the loop; replacing them all at once here stalls the loop for
                    # about 35 ms of this harness's own work, which is not the sink's.
                    await asyncio.sleep(0)
                tenant.rotate(round_ * TENANTS + number, clock.now())
                sink.changed(tenant)
            await sink.drained()
        ended = time.monotonic()
        sampling.set()
        await sampler
        written = len(token_files(Path(shm)))
        stop.set()
        await writer
        await sink.stop()
    return {"files": 2 * written, "seconds": round(ended - started, 2), "lag": scale.lag_between(lags, started, ended)}


def token_files(directory: Path) -> dict[str, str]:
    return {p.stem: json.loads(p.read_text())["access_token"] for p in directory.glob("*.json")}


def run(workdir: Path) -> common.Result:
    workload = (
        f"{TENANTS:,} tenants probing ({len(PROBES)} probes, ~{PROBES_PER_S:g} probes/s), hand-off on a unix socket, "
        f"files in /dev/shm; GET token at {RATE:g}/s for {LOAD_S:g} s over 16 keep-alive connections; the same "
        f"against a minimal aiohttp server; then every token refreshed at once (minting {MINT_RATE}/s); "
        f"then {TENANTS:,} token files rewritten in one burst, twice, by the file sink alone"
    )
    started = common.announce("handoff", workload)
    sim = common.start_simulator(
        workdir, tenants=TENANTS, seed=TENANTS, mints_per_second=SIM_MINT_LIMIT, request_log=1000
    )
    port = common.free_port()
    socket, baseline_socket = workdir / "handoff.sock", workdir / "baseline.sock"
    with tempfile.TemporaryDirectory(prefix="gw-bench-tokens-", dir="/dev/shm") as shm:
        files = Path(shm)
        names = configure(sim.config, workdir / "handoff.yaml", port=port, socket=socket, files=files)
        tenants = workdir / "tenants.txt"
        tenants.write_text("\n".join(names) + "\n")
        out, done = workdir / "child.json", workdir / "wave.done"
        argv = [common.PYTHON, "-m", "tests.perf.daemon_child", "--config", str(workdir / "handoff.yaml")]
        argv += ["--env-file", str(sim.config) + ".env", "--out", str(out), "--wave-done", str(done)]
        try:
            child = common.spawn("daemon", argv, workdir=workdir)
            try:
                common.wait_until(lambda: "daemon listening" in child.output(), timeout_s=120, what="daemon start")
                interval = TENANTS * len(PROBES) / PROBES_PER_S
                url = f"http://127.0.0.1:{port}"
                common.wait_until(lambda: common.ready(url), timeout_s=interval + 180, interval_s=1.0, what="/readyz")
                grantwarden = measured_load(workdir, child.pid, socket, tenants, "grantwarden")
                baseline_argv = [common.PYTHON, "-m", "tests.perf.handoff_baseline", "--socket", str(baseline_socket)]
                baseline_argv += ["--tenants", str(tenants)]
                with common.running(common.spawn("baseline", baseline_argv, workdir=workdir)) as server:
                    common.wait_until(lambda: "baseline listening" in server.output(), timeout_s=60, what="baseline")
                    baseline = measured_load(workdir, server.pid, baseline_socket, tenants, "baseline")
                before = token_files(files)
                os.kill(child.pid, signal.SIGUSR1)
                common.wait_until(done.exists, timeout_s=300, interval_s=0.5, what="the refresh wave")
                after = token_files(files)
            finally:
                child.stop(timeout_s=120)
            measured = json.loads(out.read_text())
        finally:
            sim.proc.stop()
    gc_in_wave = [
        seconds for at, generation, seconds in measured.get("gc", [])
        if generation == 2 and measured["wave_started_at"] <= at <= measured["wave_written_at"]
    ]  # fmt: skip
    wave = {
        "full_gcs": len(gc_in_wave),
        "longest_full_gc_ms": round(1000 * max(gc_in_wave, default=0.0), 1),
        "tenants": measured["wave_tenants"],
        "files_rewritten": sum(1 for name, token in after.items() if before.get(name) not in (None, token)),
        "minted_s": round(measured["wave_minted_at"] - measured["wave_started_at"], 1),
        "written_s": round(measured["wave_written_at"] - measured["wave_started_at"], 1),
        "lag": scale.lag_between(measured["lag"], measured["wave_started_at"], measured["wave_written_at"]),
    }
    grantwarden["collections"] = collections_in(measured, grantwarden.pop("window"))
    baseline.pop("window")
    burst = asyncio.run(sink_burst())
    ratio = baseline["cpu_per_request_us"] / grantwarden["cpu_per_request_us"]
    result = common.Result("handoff", workload, "")
    result.figures = {"grantwarden": grantwarden, "baseline": baseline, "wave": wave, "burst": burst}
    result.targets = [
        common.Target("token p99 round trip", grantwarden["round_trip_p99_ms"], "ms", f"≤ {TARGET_P99_MS:g} ms",
                      grantwarden["round_trip_p99_ms"] <= TARGET_P99_MS),
        common.Target("token p50 round trip", grantwarden["round_trip_p50_ms"], "ms", "—", None),
        common.Target("token p99 from due time", grantwarden["from_due_p99_ms"], "ms", "—", None),
        common.Target("grantwarden CPU per request", grantwarden["cpu_per_request_us"], "µs", "—", None),
        common.Target("minimal aiohttp CPU per request", baseline["cpu_per_request_us"], "µs", "—", None),
        common.Target("ratio minimal/grantwarden", round(ratio, 3), "", f"≥ {TARGET_RATIO:g}", ratio >= TARGET_RATIO),
        common.Target("minimal aiohttp p99 round trip", baseline["round_trip_p99_ms"], "ms", "—", None),
        common.Target("files rewritten in the wave", wave["files_rewritten"], "", f"{TENANTS:,}", None),
        common.Target("loop lag p99 (timer samples) in the wave", wave["lag"]["p99_ms"], "ms", "—", None),
        common.Target("loop lag p99 (time-weighted) in the wave", wave["lag"]["p99_time_weighted_ms"], "ms",
                      f"≤ {TARGET_WAVE_LAG_MS:g} ms", wave["lag"]["p99_time_weighted_ms"] <= TARGET_WAVE_LAG_MS),
        common.Target("file sink burst: files written", burst["files"], "", f"{2 * TENANTS:,}", None),
        common.Target("file sink burst: seconds", burst["seconds"], "s", "—", None),
        common.Target("file sink burst: loop lag p99 (time-weighted)", burst["lag"]["p99_time_weighted_ms"], "ms",
                      f"≤ {TARGET_WAVE_LAG_MS:g} ms", burst["lag"]["p99_time_weighted_ms"] <= TARGET_WAVE_LAG_MS),
    ]  # fmt: skip
    result.commands = [common.command_line(argv), grantwarden["command"], baseline["command"]]
    result.headline = (
        f"token at {grantwarden['rate_achieved']:g}/s: p50 {grantwarden['round_trip_p50_ms']} ms, "
        f"p99 {grantwarden['round_trip_p99_ms']} ms; CPU {grantwarden['cpu_per_request_us']} µs/request vs "
        f"{baseline['cpu_per_request_us']} µs minimal (ratio {ratio:.2f}); wave of {wave['files_rewritten']:,} files "
        f"in {wave['written_s']} s, lag p99 {wave['lag']['p99_ms']} ms ({wave['lag']['p99_time_weighted_ms']} ms "
        f"time-weighted); a burst of {burst['files']:,} file writes: lag p99 {burst['lag']['p99_time_weighted_ms']} ms "
        "time-weighted"
    )
    return common.finish(result, started)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gw-bench-handoff-") as tmp:
        run(Path(tmp))


if __name__ == "__main__":
    main()
