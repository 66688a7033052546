"""Serving a world over HTTP, and ``grantwarden simulate`` (wired into the CLI by ``grantwarden.cli``).

``start`` runs the application on an aiohttp ``AppRunner``/``TCPSite`` (port 0 picks a free
port) and returns a ``Running`` with the base URL and ``stop()``. ``main(argv)`` implements
``grantwarden simulate --scenario FILE | --tenants N [--seed S] [--problem-fraction F]
--listen HOST:PORT [--emit-config FILE]``: it serves until SIGINT/SIGTERM and returns 0, or
returns 2 after one line on stderr for a bad scenario or bad arguments. It never calls
``sys.exit``: exiting is the CLI's job.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from pathlib import Path

from aiohttp import web

from grantwarden.base.clock import LoopClock
from grantwarden.simulator import app, emitting, generator, scenarios, world
from grantwarden.simulator.reading import ScenarioError


@dataclasses.dataclass(slots=True)
class Running:
    world: world.World
    base_url: str
    port: int
    runner: web.AppRunner

    def url(self, region: str | None = None) -> str:
        """The base URL of ``region`` (the default region's is the root)."""
        return emitting.tenant_url(self.world, self.base_url, region or self.world.default_region)

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start(sim: world.World, *, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Serve ``sim`` on ``host:port``; the caller awaits ``stop()`` when done."""
    runner = web.AppRunner(app.build(sim), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    shown = f"[{host}]" if ":" in host else host
    return Running(sim, f"http://{shown}:{bound}", bound, runner)


class UsageError(Exception):
    """Bad command-line arguments (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # raise instead of exiting
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="grantwarden simulate", description="Serve the embedded Genesys Cloud simulator.")
    p.add_argument("--scenario", help="a built-in world (demo) or a scenario YAML file")
    p.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT to listen on (port 0: any free port)")
    p.add_argument("--emit-config", help="write the matching grantwarden config here, secrets to FILE.env")
    p.add_argument("--tenants", type=int, help="generate a world of N tenants instead of reading a scenario")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated world")
    p.add_argument("--problem-fraction", type=float, default=0.0, help="share of generated tenants with each problem")
    return p


def listen_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {value!r}: expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def build_world(args: argparse.Namespace) -> world.World:
    if (args.scenario is None) == (args.tenants is None):
        raise UsageError("give --scenario NAME|FILE or --tenants N (not both)")
    if args.scenario is not None:
        return scenarios.load(args.scenario, clock=LoopClock())
    if args.tenants < 1 or not 0.0 <= args.problem_fraction * len(generator.Problem) <= 1.0:
        raise UsageError("--tenants is at least 1 and --problem-fraction at most 1/5")
    fractions = dict.fromkeys(generator.Problem, args.problem_fraction)
    return generator.generate(tenants=args.tenants, seed=args.seed, fractions=fractions, clock=LoopClock())


async def serve(sim: world.World, host: str, port: int, emit_config: str | None) -> int:
    try:
        running = await start(sim, host=host, port=port)
    except OSError as exc:
        print(f"grantwarden simulate: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)  # noqa: T201 - CLI output
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        if emit_config:
            env_path = emitting.write(sim, running.base_url, emit_config)
            print(f"wrote {emit_config} and {env_path}", flush=True)  # noqa: T201 - CLI output
        regions = ", ".join(sorted(sim.regions))
        print(f"simulator listening on {running.base_url} (regions: {regions})", flush=True)  # noqa: T201 - CLI output
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await running.stop()
    return 0


def main(argv: list[str]) -> int:
    """``grantwarden simulate ...``: 0 after a clean stop, 2 for bad arguments or scenario."""
    try:
        args = parser().parse_args(argv)
        host, port = listen_address(args.listen)
        sim = build_world(args)
    except (UsageError, ScenarioError, ValueError) as exc:
        print(f"grantwarden simulate: {exc}" if not isinstance(exc, ScenarioError) else str(exc), file=sys.stderr)  # noqa: T201 - CLI output
        return 2
    if args.emit_config and not Path(args.emit_config).parent.is_dir():
        print(f"grantwarden simulate: --emit-config {args.emit_config}: no such directory", file=sys.stderr)  # noqa: T201 - CLI output
        return 2
    return asyncio.run(serve(sim, host, port, args.emit_config))
