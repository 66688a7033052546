"""The soak's platform: a generated world over every region, in its own process, with a counter.

``python -m tests.soak.simulator --tenants N --emit-config FILE [--seed S] [--problem-fraction F]``
serves ``N`` generated tenants spread over all of the simulator's regions (about N/18 each), so
that a fault injected under one region's prefix through the ``/__sim/`` control API hits a
rotating subset of the fleet and leaves the rest clean. ``GET /__soak/counts`` answers the
requests served so far by kind and status (the request log keeps only its last entries), which
gives the soak its throughput. It prints ``simulator listening on URL`` once it serves and stops
on SIGTERM or SIGINT. Real time throughout (``LoopClock``): this is the long run, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import sys
from typing import Any

from aiohttp import web

from grantwarden.base.clock import LoopClock
from grantwarden.simulator import app, emitting, generator, requestlog, world
from grantwarden.simulator.api_routes import Handler

# The default region first: it is served at the root; faults rotate over the others.
REGIONS = ("us-east-1", *sorted(world.REGIONS - {"us-east-1"}))


class Counter:
    def __init__(self) -> None:
        self.counts: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)

    def middleware(self) -> Any:
        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            response = await handler(request)
            if not request.path.startswith("/__"):
                self.counts[requestlog.kind_of(request.path)][response.status] += 1
            return response

        return count

    async def handle(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {kind: {str(status): n for status, n in sorted(c.items())} for kind, c in self.counts.items()}
        )


async def serve(args: argparse.Namespace) -> int:
    fractions = dict.fromkeys(generator.Problem, args.problem_fraction)
    sim = generator.generate(
        tenants=args.tenants, seed=args.seed, fractions=fractions, regions=REGIONS, clock=LoopClock()
    )
    counter = Counter()
    application = app.build(sim)
    application.middlewares.insert(0, counter.middleware())
    application.router.add_get("/__soak/counts", counter.handle)
    runner = web.AppRunner(application, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    emitting.write(sim, base_url, args.emit_config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(f"simulator listening on {base_url}\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.simulator", description=__doc__)
    parser.add_argument("--tenants", type=int, required=True)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--problem-fraction", type=float, default=0.005, help="share of tenants with each problem")
    parser.add_argument("--emit-config", required=True)
    return asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
