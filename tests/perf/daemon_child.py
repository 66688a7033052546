"""The daemon in a process of its own, run in-process with a lag sampler: for benchmark 2.

``python -m tests.perf.daemon_child --config FILE --env-file FILE --out FILE.json`` does what
``grantwarden run`` does (load, resolve secrets, configure logs, ``runtime.run``), except that
secrets come from ``--env-file`` (10,000 tenants' secrets do not fit in a process environment)
and that it samples, beside the daemon, its own resident memory and the event loop's lag: a
timer due every ``--lag-interval`` seconds records how late it fired. On SIGTERM it stops the
daemon and writes what it measured to ``--out``: the baseline RSS after imports (before the
configuration is read), the configuration's load time, and the samples with their monotonic
times, so that the benchmark picks its windows afterwards. With ``--wave-done FILE``, SIGUSR1
starts a refresh wave (every tenant's token refreshed at once, as fast as the mint limiter lets
them), and once every hand-off token file is rewritten the times go into the output and FILE is
written (benchmark 6, ``tests.perf.handoff``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from grantwarden.app import runtime
from grantwarden.base import clock as clock_mod
from grantwarden.base import logs, redaction
from grantwarden.config import isolated as configproc
from grantwarden.config import loading as configfile
from grantwarden.worker import minting, tenant
from tests.perf import common


async def sample_lag(interval_s: float, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        expected = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        samples.append((time.monotonic(), max(0.0, loop.time() - expected)))


async def sample_rss(samples: list[tuple[float, int]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append((time.monotonic(), common.rss_bytes()))
        await asyncio.sleep(1.0)


async def serve(args: argparse.Namespace, measured: dict[str, Any]) -> int:
    # Minting reads {env: NAME} secrets from the environment the daemon is given, at every mint; a
    # child's environment cannot carry 20,000 secrets through exec, so they are added here instead.
    environ = {**os.environ, **common.read_env(Path(args.env_file))}
    started = time.perf_counter()
    loaded = configproc.load(args.config, environ=environ)
    configfile.resolve_secrets(loaded, environ=environ)
    measured["config_load_s"] = round(time.perf_counter() - started, 3)
    measured["rss_after_config"] = common.rss_bytes()
    redactor = redaction.Redactor()
    clock = clock_mod.LoopClock()
    cfg = loaded.settings
    logs.configure(level=cfg.logging.level, fmt=cfg.logging.format, redactor=redactor, clock=clock)
    stop = asyncio.Event()
    samplers_stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    lag: list[tuple[float, float]] = []
    rss: list[tuple[float, int]] = []
    samplers = [
        asyncio.ensure_future(sample_lag(args.lag_interval, lag, samplers_stop)),
        asyncio.ensure_future(sample_rss(rss, samplers_stop)),
    ]
    measured["lag"], measured["rss"] = lag, rss
    background: list[asyncio.Future[None]] = []

    def on_started(daemon: runtime.Daemon, http: Any) -> None:
        measured["started_at"] = time.monotonic()
        if args.profile:
            loop.add_signal_handler(signal.SIGUSR2, profiler(Path(args.profile)))
        if args.wave_done:
            loop.add_signal_handler(
                signal.SIGUSR1, lambda: background.append(asyncio.ensure_future(wave(daemon, measured, args.wave_done)))
            )
        print(f"daemon listening on {http.url}", flush=True)

    options = runtime.Options(
        clock=clock, environ=environ, redactor=redactor, install_signals=False, on_started=on_started
    )
    if args.tracemalloc:
        background.append(asyncio.ensure_future(dump_on_stop(stop, Path(args.tracemalloc))))
    collections: list[tuple[float, int, float]] = []
    measured["gc"] = collections
    gc.callbacks.append(gc_recorder(collections))
    if args.record_mints:
        measured["mint_grants"] = record_mint_grants()
    code = await runtime.run(loaded, options, stop)
    for task in background:
        task.cancel()
    measured["stopped_at"] = time.monotonic()
    samplers_stop.set()
    await asyncio.gather(*samplers, return_exceptions=True)
    return code


async def wave(daemon: runtime.Daemon, measured: dict[str, Any], done: str) -> None:
    """Refresh every tenant's token at once; record when the mints and the file writes finished."""
    measured["wave_started_at"] = time.monotonic()
    workers = [daemon.sup.running(name) for name in list(daemon.statuses())]
    boxes = [worker.api.box for worker in workers if isinstance(worker, tenant.Worker)]
    await asyncio.gather(*(box.refresh(force=True) for box in boxes), return_exceptions=True)
    measured["wave_minted_at"] = time.monotonic()
    measured["wave_tenants"] = len(boxes)
    if daemon.files is not None:
        await daemon.files.drained()
    measured["wave_written_at"] = time.monotonic()
    mark_done(Path(done))


def profiler(target: Path) -> Any:
    """A SIGUSR2 handler: the first call starts profiling the process, the second writes the stats."""
    import cProfile  # only when asked for

    running: list[cProfile.Profile] = []

    def toggle() -> None:
        if not running:
            running.append(cProfile.Profile())
            running[0].enable()
        else:
            running[0].disable()
            running.pop().dump_stats(str(target))

    return toggle


def mark_done(path: Path) -> None:
    path.write_text("done\n")


def record_mint_grants() -> list[float]:
    """Record when the daemon's ``MintLimiter`` lets each token request go (monotonic seconds).

    The simulator sees arrival times, which network and connection-pool jitter bunch together;
    the limiter's own grant times are what the daemon controls.
    """
    grants: list[float] = []
    acquire = minting.MintLimiter.acquire

    async def recorded(self: minting.MintLimiter) -> None:
        await acquire(self)
        grants.append(time.monotonic())

    minting.MintLimiter.acquire = recorded  # type: ignore[method-assign]  # benchmark instrumentation
    return grants


def gc_recorder(collections: list[tuple[float, int, float]]) -> Any:
    """Record (monotonic end, generation, seconds) of every collection of generation 1 or 2."""
    started: dict[str, float] = {}

    def record(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 0:
            return
        if phase == "start":
            started["at"] = time.perf_counter()
        elif "at" in started:
            collections.append((time.monotonic(), info["generation"], time.perf_counter() - started.pop("at")))

    return record


async def dump_on_stop(stop: asyncio.Event, target: Path) -> None:
    """At the stop signal, before anything is torn down: where the live memory was allocated."""
    await stop.wait()
    write_snapshot(target)


def write_snapshot(target: Path) -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    by_file, by_line = snapshot.statistics("filename"), snapshot.statistics("lineno")
    lines = [f"traced: {sum(stat.size for stat in by_file) / 2**20:.1f} MiB", "", "by file:"]
    lines += [f"  {s.size / 2**20:8.2f} MiB  {s.count:9d}  {s.traceback}" for s in by_file[:40]]
    lines += ["", "by line:"]
    lines += [f"  {s.size / 2**20:8.2f} MiB  {s.count:9d}  {s.traceback}" for s in by_line[:60]]
    target.write_text("\n".join(lines) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.daemon_child", description=__doc__)
    p.add_argument("--config", required=True)
    p.add_argument("--env-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--lag-interval", type=float, default=0.1)
    p.add_argument("--record-mints", action="store_true", help="record the mint limiter's grant times")
    p.add_argument("--tracemalloc", default=None, help="trace allocations; write the live ones here at stop")
    p.add_argument("--wave-done", default=None, help="SIGUSR1 starts a refresh wave; this file says it ended")
    p.add_argument("--profile", default=None, help="SIGUSR2 starts a cProfile of the loop, the next one writes it here")
    args = p.parse_args()
    if args.tracemalloc:
        tracemalloc.start()
    measured: dict[str, Any] = {"rss_baseline": common.rss_bytes(), "process_started_at": time.monotonic()}
    code = asyncio.run(serve(args, measured))
    Path(args.out).write_text(json.dumps(measured))
    return code


if __name__ == "__main__":
    sys.exit(main())
