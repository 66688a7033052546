"""The simulator in its own process, with benchmark knobs and a request counter.

``python -m tests.perf.simrunner --tenants N [--seed S] [--listen 127.0.0.1:0] --emit-config FILE
[--token-requests-per-minute N] [--mints-per-second N] [--mints-per-client-per-minute N]
[--request-log N]`` serves a generated world (``grantwarden.simulator.generator``) as
``grantwarden simulate --tenants`` does, on platform settings a benchmark chooses (a higher
per-token budget, a global minting limit just above the daemon's rate), and adds
``GET /__bench/counts``: requests by kind and status, and the monotonic time of every token
request, so that a benchmark counts probes and checks minting rates without relying on the
request log (which keeps only its last entries). It prints ``simulator listening on URL``
once it serves, and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import sys
import time
from typing import Any

from aiohttp import web

from grantwarden.base.clock import LoopClock
from grantwarden.simulator import app, emitting, generator, requestlog, world
from grantwarden.simulator.api_routes import Handler


class Counter:
    """What reached the platform: counts by kind and status, token request times."""

    def __init__(self, clock: LoopClock) -> None:
        self.clock = clock
        self.by_kind: dict[str, collections.Counter[int]] = {
            "api": collections.Counter(),
            "token": collections.Counter(),
            "control": collections.Counter(),
        }
        self.token_times: list[float] = []
        self.token_429_times: list[float] = []

    def middleware(self) -> Any:
        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith("/__bench/"):
                return await handler(request)
            kind = requestlog.kind_of(request.path)
            if kind == "token":
                self.token_times.append(time.monotonic())
            response = await handler(request)
            self.by_kind[kind][response.status] += 1
            if kind == "token" and response.status == 429:
                self.token_429_times.append(time.monotonic())
            return response

        return count

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body: dict[str, Any] = {
            kind: {"total": sum(counts.values()), "by_status": {str(k): v for k, v in sorted(counts.items())}}
            for kind, counts in self.by_kind.items()
        }
        body["now"] = time.monotonic()
        body["sim_now"] = self.clock.now()  # the request log's time base
        if request.query.get("times"):
            body["token_times"] = self.token_times
            body["token_429_times"] = self.token_429_times
        return web.json_response(body)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.perf.simrunner", description=__doc__)
    p.add_argument("--tenants", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--emit-config", required=True)
    p.add_argument("--token-requests-per-minute", type=int, default=None)
    p.add_argument("--mints-per-second", type=int, default=None)
    p.add_argument("--mints-per-client-per-minute", type=int, default=None)
    p.add_argument("--request-log", type=int, default=requestlog.DEFAULT_SIZE)
    return p


def settings_from(args: argparse.Namespace) -> world.Settings:
    settings = world.Settings()
    if args.token_requests_per_minute is not None:
        settings.token_requests_per_minute = args.token_requests_per_minute
    if args.mints_per_second is not None:
        settings.mints_per_second = args.mints_per_second
    if args.mints_per_client_per_minute is not None:
        settings.mints_per_client_per_minute = args.mints_per_client_per_minute
    return settings


async def serve(args: argparse.Namespace) -> int:
    clock = LoopClock()
    sim = generator.generate(tenants=args.tenants, seed=args.seed, clock=clock, settings=settings_from(args))
    sim.requests = requestlog.RequestLog(args.request_log)
    counter = Counter(clock)
    application = app.build(sim)
    application.middlewares.insert(0, counter.middleware())
    application.router.add_get("/__bench/counts", counter.handle)
    runner = web.AppRunner(application, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    host, _, port = args.listen.rpartition(":")
    site = web.TCPSite(runner, host, int(port), backlog=1024)
    await site.start()
    base_url = f"http://{host}:{runner.addresses[0][1]}"
    emitting.write(sim, base_url, args.emit_config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"simulator listening on {base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(serve(parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
